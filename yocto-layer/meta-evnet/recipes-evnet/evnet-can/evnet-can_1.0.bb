SUMMARY = "EVNET charger: bring the CAN interface can0 up at boot (systemd-networkd)"
DESCRIPTION = "A systemd-networkd .network file for can0, the MCP2515 CAN controller of \
the charger board (local power sharing between chargers, DESIGN.md section 3): sets the bit \
rate and the automatic restart after bus-off, and keeps can0 out of network-online.target \
so a CAN bus without peers never delays the OCPP uplink. The device itself comes from the \
machine's device tree (kas/evnet-cm4.yml: the mcp2515 overlay on SPI1)."
HOMEPAGE = "https://evnet.example/evnetd"
SECTION = "base"
LICENSE = "MIT"
# Nothing is fetched, so the licence text is the common one, like the layer's image and
# packagegroup (MIT).
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

SRC_URI = ""

# The file is written from these variables, which a board revision overrides in
# local.conf or its kas file. The bit rate must match the other chargers on
# the bus; the restart delay brings can0 back after bus-off (0 = stay down).
EVNET_CAN_INTERFACE ?= "can0"
EVNET_CAN_BITRATE ?= "125000"
EVNET_CAN_RESTART ?= "100ms"

inherit allarch features_check

REQUIRED_DISTRO_FEATURES = "systemd"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${systemd_unitdir}/network
    printf '%s\n' \
        '# EVNET charger CAN bus (recipe evnet-can: EVNET_CAN_BITRATE, EVNET_CAN_RESTART).' \
        '[Match]' \
        'Name=${EVNET_CAN_INTERFACE}' \
        '' \
        '[Link]' \
        'RequiredForOnline=no' \
        '' \
        '[CAN]' \
        'BitRate=${EVNET_CAN_BITRATE}' \
        'RestartSec=${EVNET_CAN_RESTART}' \
        > ${D}${systemd_unitdir}/network/70-evnet-${EVNET_CAN_INTERFACE}.network
    chmod 0644 ${D}${systemd_unitdir}/network/70-evnet-${EVNET_CAN_INTERFACE}.network
}

FILES:${PN} += "${systemd_unitdir}/network"

# systemd-networkd (systemd's "networkd" PACKAGECONFIG, on by default) applies the file;
# the kernel modules are loaded from the device tree's modalias. They are recommended,
# not required: a kernel with them built in has no such packages.
RDEPENDS:${PN} = "systemd"
RRECOMMENDS:${PN} = "\
    kernel-module-can-raw \
    kernel-module-mcp251x \
    kernel-module-spi-bcm2835aux \
"
