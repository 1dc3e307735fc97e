"""Security whitepaper commands through the real service: certificates (TC_074–TC_078), the
security log (TC_079) and a signed firmware update with a bad certificate (L01).
"""

from __future__ import annotations

import time

import pytest
from cryptography import x509
from ocpp.v16 import call

from tests.ocpp.conftest import CHARGE_POINT_ID, Charger
from tests.ocpp.csms import Csms
from tests.ocpp.test_certificates import issue, make_root, pem
from tests.ocpp.test_transfer import FileServer, serving

pytestmark = pytest.mark.integration


def test_tc_075_install_list_tc_076_delete_tc_078_invalid(charger: Charger, csms: Csms) -> None:
    root, _key = make_root("CSMS Root")
    kind = "CentralSystemRootCertificate"
    answer = csms.call(call.InstallCertificate(certificate_type=kind, certificate=pem(root)))
    assert answer["status"] == "Accepted"
    listed = csms.call(call.GetInstalledCertificateIds(certificate_type=kind))
    assert listed["status"] == "Accepted"
    (hash_data,) = listed["certificateHashData"]
    assert hash_data["serialNumber"] == format(root.serial_number, "x")
    assert csms.call(call.DeleteCertificate(certificate_hash_data=hash_data))["status"] == "Accepted"
    assert csms.call(call.DeleteCertificate(certificate_hash_data=hash_data))["status"] == "NotFound"
    mark = csms.mark()
    broken = csms.call(call.InstallCertificate(certificate_type=kind, certificate="-----BEGIN CERTIFICATE-----\nnope"))
    assert broken["status"] == "Rejected"
    csms.wait_for("SecurityEventNotification", {"type": "InvalidCentralSystemCertificate"}, after=mark)


def test_tc_074_sign_certificate_tc_077_invalid_chain(charger: Charger, csms: Csms) -> None:
    mark = csms.mark()
    trigger = call.ExtendedTriggerMessage(requested_message="SignChargePointCertificate")
    assert csms.call(trigger)["status"] == "Accepted"
    request = csms.wait_for("SignCertificate", after=mark).payload
    csr = x509.load_pem_x509_csr(request["csr"].encode())
    assert csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == CHARGE_POINT_ID
    ca, ca_key = make_root("CSMS CA")
    assert csms.call(call.InstallCertificate(certificate_type="CentralSystemRootCertificate", certificate=pem(ca)))[
        "status"
    ] == "Accepted"
    leaf = issue(CHARGE_POINT_ID, csr.public_key(), ca, ca_key)
    assert csms.call(call.CertificateSigned(certificate_chain=pem(leaf)))["status"] == "Accepted"
    mark = csms.mark()
    assert csms.call(call.CertificateSigned(certificate_chain="garbage"))["status"] == "Rejected"
    csms.wait_for("SecurityEventNotification", {"type": "InvalidChargePointCertificate"}, after=mark)


def test_tc_079_get_security_log(charger: Charger, csms: Csms) -> None:
    with serving(FileServer()) as files:
        mark = csms.mark()
        request = call.GetLog(log={"remoteLocation": files.url + "/logs/"}, log_type="SecurityLog", request_id=1)
        answer = csms.call(request)
        assert answer["status"] == "Accepted" and answer["filename"]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            statuses = [f.payload["status"] for f in csms.sent("LogStatusNotification", after=mark)]
            if statuses[-1:] == ["Uploaded"]:
                break
            time.sleep(0.1)
        assert statuses == ["Uploading", "Uploaded"]
        uploaded = files.received[f"/logs/{answer['filename']}"]
    assert b"StartupOfTheDevice" in uploaded


def test_signed_update_firmware_with_an_unknown_signer_is_refused(charger: Charger, csms: Csms) -> None:
    signer, _key = make_root("Not our manufacturer")
    mark = csms.mark()
    firmware = {
        "location": "http://127.0.0.1:9/fw.bin", "retrieveDateTime": "2026-01-01T00:00:00Z",
        "signingCertificate": pem(signer), "signature": "AAAA",
    }  # fmt: skip
    answer = csms.call(call.SignedUpdateFirmware(request_id=5, firmware=firmware))
    assert answer["status"] == "InvalidCertificate"
    csms.wait_for("SecurityEventNotification", {"type": "InvalidFirmwareSigningCertificate"}, after=mark)
    assert not csms.sent("SignedFirmwareStatusNotification", after=mark)
