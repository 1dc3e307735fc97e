SUMMARY = "EVNET charger: the daemons and what an installed charger needs"
DESCRIPTION = "The evnetd daemons, can0 brought up at boot (evnet-can), and the tools to \
inspect the board's I2C, GPIO and CAN lines on an installed charger (busybox ip cannot \
configure or show a CAN interface: iproute2)."
LICENSE = "MIT"

inherit packagegroup

RDEPENDS:${PN} = "\
    can-utils \
    evnet-can \
    evnetd \
    i2c-tools \
    iproute2 \
    libgpiod-tools \
"
