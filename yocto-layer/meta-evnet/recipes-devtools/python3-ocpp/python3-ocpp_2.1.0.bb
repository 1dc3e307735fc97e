SUMMARY = "Open Charge Point Protocol (OCPP-J 1.6, 2.0.1, 2.1) for Python"
DESCRIPTION = "The ocpp library of The Mobility House: charge point and central system \
sides of the JSON versions of OCPP on asyncio, with JSON schema validation. Not in \
openembedded-core or meta-openembedded."
HOMEPAGE = "https://github.com/mobilityhouse/ocpp"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=357da596bd4bc9004894e2feaaa1e975"

SRC_URI[sha256sum] = "d29bfafb7161f75a78314f5cfd1b82fdf155082cd0f4de48c4dc8e5741422cf0"

inherit pypi python_poetry_core

# ocpp 2.1.0 asks for poetry-core >= 2.0 to build; scarthgap and styhead ship 1.9, which
# builds its [tool.poetry] metadata the same way.
PEP517_BUILD_OPTS = "--skip-dependency-check"

# ocpp declares jsonschema ^4.23; it only uses Draft4Validator and ValidationError,
# which scarthgap's 4.21 provides (tested with 4.10 and newer).
RDEPENDS:${PN} += "\
    python3-asyncio \
    python3-core \
    python3-json \
    python3-jsonschema \
    python3-logging \
    python3-netclient \
    python3-numbers \
"
