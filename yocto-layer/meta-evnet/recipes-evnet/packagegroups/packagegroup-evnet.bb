SUMMARY = "EVNET charger: the daemons and what an installed charger needs"
DESCRIPTION = "The evnetd daemons with the tools to inspect the board's I2C and GPIO \
lines on an installed charger."
LICENSE = "MIT"

inherit packagegroup

RDEPENDS:${PN} = "\
    evnetd \
    i2c-tools \
    libgpiod-tools \
"
