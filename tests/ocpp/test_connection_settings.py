"""Ocpp1.SetConnection and InstallCertificate: the rules, and the real service against a loopback CSMS."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call as call_ocpp

from evnetd.bus.client import call
from evnetd.bus.connection import connect
from evnetd.bus.errors import InvalidArgument
from evnetd.bus.names import OCPP
from evnetd.ocpp.link_settings import LinkSettings, LinkStore, check_link
from evnetd.runtime.settings import SettingError
from tests.integration.plant import BusTool
from tests.ocpp.conftest import CHARGE_POINT_ID, Charger, wait_until
from tests.ocpp.csms import Csms
from tests.ocpp.test_certificates import make_root, pem

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("url", "charge_point_id", "profile"),
    [
        ("", "CP-1", 0),
        ("ws://10.0.0.1:9000/ocpp", "CP_1.a-b", 0),
        ("wss://csms.example.com/ocpp/", "x" * 48, 1),
        ("wss://csms.example.com", "CP-1", 3),
    ],
)
def test_valid_connections(url: str, charge_point_id: str, profile: int) -> None:
    assert check_link(url, charge_point_id, profile) == LinkSettings(url, charge_point_id)


@pytest.mark.parametrize(
    ("url", "charge_point_id", "profile", "message"),
    [
        ("http://csms", "CP-1", 0, "url: 'http://csms': must be empty (offline) or a ws:// or wss:// URL with a host"),
        ("ws://", "CP-1", 0, "url: 'ws://': must be empty"),
        ("ws:///ocpp", "CP-1", 0, "url: 'ws:///ocpp': must be empty"),
        ("ws://h/" + "a" * 512, "CP-1", 0, "url: 'ws://h/aaaa"),
        ("ws://h/ocpp?x=1", "CP-1", 0, "url: 'ws://h/ocpp?x=1': must have no query or fragment"),
        ("ws://h/ocpp", "CP-1", 2, "url: 'ws://h/ocpp': must be wss:// with security profile 2"),
        ("ws://h", "", 0, "charge_point_id: '': must be 1 to 48 of A-Z a-z 0-9 . _ -"),
        ("ws://h", "CP 1", 0, "charge_point_id: 'CP 1': must be 1 to 48"),
        ("ws://h", "CP/1", 0, "charge_point_id: 'CP/1': must be 1 to 48"),
        ("", "x" * 49, 0, "charge_point_id: 'xxx"),
    ],
)
def test_invalid_connections_name_field_value_and_rule(url: str, charge_point_id: str, profile: int,
                                                       message: str) -> None:  # fmt: skip
    with pytest.raises(SettingError) as caught:
        check_link(url, charge_point_id, profile)
    assert str(caught.value).startswith(message)


def test_the_stored_pair_wins_over_the_config(tmp_path: Path) -> None:
    configured = LinkSettings("ws://config/ocpp", "CP-CONFIG")
    store = LinkStore(tmp_path / "link.db")
    assert store.load(configured) == configured
    store.save(LinkSettings("", "CP-OFFLINE"))  # offline is a choice that is kept too
    store.close()
    assert LinkStore(tmp_path / "link.db").load(configured) == LinkSettings("", "CP-OFFLINE")


def ocpp_prop(tool: BusTool, name: str) -> Any:
    return tool.get("Ocpp1", name)


def test_set_connection_reconnects_at_once_and_is_kept_across_restarts(tmp_path: Path, csms: Csms) -> None:
    charger = Charger(tmp_path, csms)
    try:
        csms.wait_for("BootNotification")
        tool = BusTool(charger.sim.bus)
        wait_until(lambda: ocpp_prop(tool, "Connected") is True, "connected")
        assert "url: 'http://x': must be empty" in tool.call_error("Ocpp1", "SetConnection", "ss", "http://x", "CP-2")
        assert "charge_point_id: 'CP 2'" in tool.call_error("Ocpp1", "SetConnection", "ss", csms.url, "CP 2")
        assert ocpp_prop(tool, "ChargePointId") == CHARGE_POINT_ID  # a refusal changes nothing

        mark = csms.mark()
        tool.call("Ocpp1", "SetConnection", "ss", csms.url, "CP-NEW-2")
        boot = csms.wait_for("BootNotification", after=mark, timeout=10)  # a new identity registers anew
        assert boot.payload["chargePointSerialNumber"] == "CP-NEW-2"
        assert csms.connections[-1][0] == "/ocpp/CP-NEW-2"
        assert (ocpp_prop(tool, "Url"), ocpp_prop(tool, "ChargePointId")) == (csms.url, "CP-NEW-2")

        tool.call("Ocpp1", "SetConnection", "ss", "", "CP-NEW-2")  # offline
        wait_until(lambda: ocpp_prop(tool, "Connected") is False, "the link closed", 5)
        charger.stop()

        connections = len(csms.connections)
        charger = Charger(tmp_path, csms)  # the config still names the CSMS and CP-TEST-1
        tool = BusTool(charger.sim.bus)
        wait_until(lambda: ocpp_prop(tool, "ChargePointId") == "CP-NEW-2", "the kept id")
        assert ocpp_prop(tool, "Url") == "" and ocpp_prop(tool, "Connected") is False
        tool.call("Ocpp1", "SetConnection", "ss", csms.url, "CP-NEW-3")
        wait_until(lambda: ocpp_prop(tool, "Connected") is True, "connected again", 10)
        assert len(csms.connections) == connections + 1 and csms.connections[-1][0] == "/ocpp/CP-NEW-3"
    finally:
        charger.stop()


def install(charger: Charger, certificate_type: str, text: str) -> str:
    """Through the project's bus client: busctl would take a PEM's leading dashes for an option."""

    async def run() -> str:
        bus = await connect(charger.sim.bus)
        try:
            return str(await call(bus, OCPP, "InstallCertificate", "ss", [certificate_type, text]))
        finally:
            bus.disconnect()

    return asyncio.run(run())


def test_install_certificate_from_the_bus(charger: Charger, csms: Csms) -> None:
    root, _ = make_root("Test CSMS Root")
    assert install(charger, "CentralSystemRootCertificate", pem(root)) == "Accepted"
    assert install(charger, "ManufacturerRootCertificate", "junk") == "Rejected"
    mark = csms.mark()
    assert install(charger, "CentralSystemRootCertificate", "junk") == "Rejected"
    event = csms.wait_for("SecurityEventNotification", after=mark)
    assert event.payload["type"] == "InvalidCentralSystemCertificate"
    with pytest.raises(InvalidArgument, match="certificate_type: 'ChargePointCertificate': must be Central"):
        install(charger, "ChargePointCertificate", pem(root))
    listed = csms.call(call_ocpp.GetInstalledCertificateIds(certificate_type="CentralSystemRootCertificate"))
    assert listed["status"] == "Accepted" and len(listed["certificateHashData"]) == 1  # the CSMS sees the same store
