SUMMARY = "EVNET 7 kW AC charger daemons"
DESCRIPTION = "Metering/protection, charge control, OCPP 1.6J uplink, energy management and \
web client daemons of the EVNET charger, with the operator's CLI evnetctl, hardened systemd units grouped by \
evnet.target, the firmware installer hook, the D-Bus system bus policy, udev rules for \
SPI, GPIO, I2C and PWM, and the plant simulator unit (package evnetd-sim, not enabled)."
HOMEPAGE = "https://evnet.example/evnetd"
SECTION = "console/utils"
LICENSE = "GPL-3.0-or-later"
# The tree's licence statement: "Files: *" and the GPL-3.0-or-later notice of debian/copyright.
LIC_FILES_CHKSUM = "file://debian/copyright;beginline=7;endline=27;md5=785ef737a01994a60ae87ed89e2e8711"

# Built from the tree this layer lives in (yocto-layer/meta-evnet: four directories above
# this file), as it is, with externalsrc: nothing is fetched and bitbake rebuilds when a
# tracked file changes. A release may instead fetch a tagged commit in a bbappend.
EXTERNALSRC ?= "${@os.path.abspath(os.path.join(d.getVar('FILE_DIRNAME'), '..', '..', '..', '..'))}"
# externalsrc must not leave oe-workdir/oe-logs links in the tree (the variable is
# externalsrc.bbclass's own, which oelint does not know).
# nooelint: oelint.vars.mispell.unknown
EXTERNALSRC_SYMLINKS = ""
SRC_URI = ""

inherit externalsrc python_setuptools_build_meta systemd useradd

# The same files as the Debian package, from the same place in the tree.
# The firmware installer hook (/usr/lib/evnet/install-firmware) hands a Debian package to
# evnet-firmware-install.service; an image without apt-get makes it refuse (exit 2): set
# [ocpp] firmware_installer to the image's update tool (RAUC, SWUpdate, ...) instead.
do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/etc/systemd/evnet.target ${S}/etc/systemd/*.service ${S}/etc/systemd/*.path \
        ${D}${systemd_system_unitdir}/
    install -D -m 0755 ${S}/etc/firmware/install-firmware ${D}${nonarch_libdir}/evnet/install-firmware
    install -D -m 0644 ${S}/etc/dbus-1/org.evnet.conf ${D}${datadir}/dbus-1/system.d/org.evnet.conf
    install -D -m 0644 ${S}/etc/udev/90-evnet.rules ${D}${nonarch_base_libdir}/udev/rules.d/90-evnet.rules
    install -D -m 0644 ${S}/etc/evnet/evnet.toml ${D}${sysconfdir}/evnet/evnet.toml
}

# The user "evnet" (home = the state directory, no login) and the device groups the
# hardware units add with SupplementaryGroups=; members of evnet-admin may call methods.
# evnet-web runs the web client: the D-Bus policy names what it may call (see the unit).
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system evnet-admin; --system spi; --system gpio; --system i2c"
USERADD_PARAM:${PN} = "--system --no-create-home --home-dir ${localstatedir}/lib/evnet \
    --shell ${base_sbindir}/nologin --user-group evnet; \
    --system --no-create-home --home-dir ${localstatedir}/lib/evnet/web \
    --shell ${base_sbindir}/nologin --user-group evnet-web"

PACKAGES =+ "${PN}-sim"

SYSTEMD_PACKAGES = "${PN} ${PN}-sim"
# evnet-firmware-install.service is only started by its .path unit (no [Install]).
SYSTEMD_SERVICE:${PN} = "evnet.target evnet-meter.service evnet-charger.service evnet-ocpp.service \
    evnet-energy.service evnet-web.service evnet-firmware-install.path"
SYSTEMD_SERVICE:${PN}-sim = "evnet-sim.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"
# The plant simulator: development and tests only, never enabled on a charger.
SYSTEMD_AUTO_ENABLE:${PN}-sim = "disable"

FILES:${PN}-sim += "${systemd_system_unitdir}/evnet-sim.service"
FILES:${PN} += "\
    ${datadir}/dbus-1/system.d/org.evnet.conf \
    ${nonarch_libdir}/evnet \
    ${nonarch_base_libdir}/udev/rules.d/90-evnet.rules \
    ${systemd_system_unitdir} \
"
CONFFILES:${PN} = "${sysconfdir}/evnet/evnet.toml"

RDEPENDS:${PN}-sim = "${PN}"
# evnet-ocpp: cryptography (>= 42: certificates, signed firmware), websockets >= 15 (this
# layer's recipe on scarthgap/styhead), tarfile (diagnostics), ftplib/http/urllib (transfers).
# evnet-energy: python-can (SocketCAN). evnet-web: aiohttp (meta-python; scarthgap 3.9.5),
# cryptography (its self-signed certificate), journalctl (systemd) for the diagnostics page.
RDEPENDS:${PN} += "\
    dbus \
    python3-aiohttp \
    python3-asyncio \
    python3-can \
    python3-compression \
    python3-core \
    python3-crypt \
    python3-cryptography \
    python3-ctypes \
    python3-datetime \
    python3-dbus-fast \
    python3-gpiod \
    python3-io \
    python3-json \
    python3-jsonschema \
    python3-logging \
    python3-math \
    python3-netclient \
    python3-numbers \
    python3-ocpp \
    python3-pickle \
    python3-pydantic \
    python3-smbus2 \
    python3-spidev \
    python3-sqlite3 \
    python3-systemd \
    python3-threading \
    python3-tomllib \
    python3-websockets (>= 15.0) \
"
