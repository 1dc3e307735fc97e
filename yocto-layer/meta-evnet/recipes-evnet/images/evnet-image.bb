SUMMARY = "EVNET charger image (systemd, D-Bus, the evnetd daemons)"
DESCRIPTION = "A systemd image with the EVNET charger daemons enabled (evnet.target) and \
the plant simulator installed but disabled."
LICENSE = "MIT"

inherit core-image features_check

REQUIRED_DISTRO_FEATURES = "systemd"

IMAGE_FEATURES += "ssh-server-dropbear"

IMAGE_INSTALL:append = " packagegroup-evnet"

# The image runs on the charger board: the daemons use the Linux drivers, not the
# simulator (/etc/evnet/evnet.toml ships board = "sim" as its default, commented out).
evnet_board_linux() {
    conf=${IMAGE_ROOTFS}${sysconfdir}/evnet/evnet.toml
    sed -i 's/^# board = "sim"$/board = "linux"/' $conf
    grep -q '^board = "linux"$' $conf || bbfatal "evnet_board_linux: no '# board = \"sim\"' line in $conf"
}
ROOTFS_POSTPROCESS_COMMAND += "evnet_board_linux"
