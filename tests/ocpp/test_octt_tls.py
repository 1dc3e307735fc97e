"""Security profile 2 end to end (OCTT TC_086): TLS to the CSMS, its certificate checked
against the installed CentralSystemRootCertificate and its host name, basic auth inside.
A CSMS whose certificate another CA signed is refused, with a security event for later.
"""

from __future__ import annotations

import base64
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ocpp.conftest import CHARGE_POINT_ID, Charger
from tests.ocpp.csms import Csms
from tests.ocpp.test_certificates import ec_key, issue, key_pem, make_root, pem

pytestmark = pytest.mark.integration
KEY = "0123456789abcdef0123"


def _tls_csms(tmp: Path, name: str) -> tuple[Csms, str]:
    """A TLS CSMS for 127.0.0.1 under a root of its own; returns it and the root's PEM."""
    root, root_key = make_root(f"{name} root")
    key = ec_key()
    (tmp / f"{name}.pem").write_text(pem(issue("csms", key.public_key(), root, root_key, ip="127.0.0.1")))
    (tmp / f"{name}.key").write_bytes(key_pem(key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / f"{name}.pem", tmp / f"{name}.key")
    return Csms(tls=context).start(), pem(root)


@pytest.fixture
def tls_csms(tmp_path: Path) -> Iterator[tuple[Csms, str]]:
    csms, root = _tls_csms(tmp_path, "csms")
    yield csms, root
    csms.close()


def _charger(tmp_path: Path, csms: Csms, trusted_root: str) -> Charger:
    roots = tmp_path / "state" / "certificates" / "CentralSystemRootCertificate"
    roots.mkdir(parents=True)
    (roots / "csms-root.pem").write_text(trusted_root)
    return Charger(tmp_path, csms, keys={"SecurityProfile": "2", "AuthorizationKey": KEY})


def test_tc_086_tls_with_the_installed_root_and_basic_auth(tmp_path: Path, tls_csms: tuple[Csms, str]) -> None:
    csms, root = tls_csms
    charger = _charger(tmp_path, csms, root)
    try:
        csms.wait_for("BootNotification")
        path, headers = csms.connections[0]
        assert path.endswith("/" + CHARGE_POINT_ID)
        token = base64.b64encode(f"{CHARGE_POINT_ID}:{KEY}".encode()).decode()
        assert {k.lower(): v for k, v in headers.items()}["authorization"] == f"Basic {token}"
        assert charger.status()["ocpp_connected"] is True
    finally:
        charger.stop()


def test_an_untrusted_csms_certificate_is_refused(tmp_path: Path, tls_csms: tuple[Csms, str]) -> None:
    csms, _root = tls_csms
    stranger, _ = make_root("someone else")
    charger = _charger(tmp_path, csms, pem(stranger))
    try:
        time.sleep(3.0)
        assert not csms.connections or not csms.sent("BootNotification")
        assert charger.status()["ocpp_connected"] is False
        log = (tmp_path / "state" / "ocpp-security.log").read_text()
        assert "InvalidCentralSystemCertificate" in log
    finally:
        charger.stop()
