SUMMARY = "An implementation of the WebSocket Protocol (RFC 6455 & 7692)"
DESCRIPTION = "websockets 15.0.1 for scarthgap (12.0) and styhead (13.0.1): evnet-ocpp uses \
the asyncio client that websockets.connect is since 14.0 and its proxy argument (15.0). \
walnascar ships this version in openembedded-core; this layer's higher priority makes \
bitbake take this recipe on every series it supports."
HOMEPAGE = "https://github.com/python-websockets/websockets"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=51924a6af4495b8cfaee1b1da869b6f4"

SRC_URI[sha256sum] = "82544de02076bafba038ce055ee6412d68da13ab47f0c60cab827346de828dee"

inherit pypi python_setuptools_build_meta

RDEPENDS:${PN} += "\
    python3-asyncio \
"

BBCLASSEXTEND = "native nativesdk"
