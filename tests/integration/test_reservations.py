"""What the OCPP service asks of the charger, through the real plant, meter and charger
processes on a private bus: reservations (OCTT TC_046..053), transaction ids, the
Authorize (bs) answer with a parent id tag, ConnectionTimeOut, and the RCD self-test
before a session.

The stack is started here without `evnetd sim`, so that a small fake ``org.evnet.Ocpp1``
(``Connected`` = True, ``Authorize(s) → bs``) can own the OCPP name; it runs in a thread
of the test process with its own event loop, and also records the charger's signals.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message, MessageType

from evnetd.bus.client import call
from evnetd.bus.connection import connect
from evnetd.bus.errors import InvalidArgument
from evnetd.bus.names import CHARGER, OCPP, Endpoint
from evnetd.bus.service import PublishedInterface, bus_method
from evnetd.sim.launcher import start_bus
from evnetd.sim.processes import ServiceProcess
from tests.integration.plant import BusTool
from tests.integration.test_sessions import beeps, plain, prop, until

pytestmark = pytest.mark.integration

CARD = "04A1B2C3"
OTHER = "0BADCAFE"
_DBUS = Endpoint("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


class FakeOcpp(PublishedInterface):
    """The OCPP service's side of Authorize: a fixed table of answers."""

    PROPERTIES = {"Connected": "b"}

    def __init__(self, answers: dict[str, tuple[bool, str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        super().__init__(OCPP.interface, {"Connected": True})

    @bus_method("s", returns="bs")
    def Authorize(self, id_tag: str) -> list[Any]:
        self.asked.append(id_tag)
        accepted, parent = self.answers.get(id_tag, (False, ""))
        return [accepted, parent]


class BusPeer:
    """A dbus-fast connection in a thread: records Charger1 signals, may own Ocpp1."""

    def __init__(self, address: str, ocpp: FakeOcpp | None) -> None:
        self.signals: list[tuple[str, list[Any]]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._open(address, ocpp), self.loop).result(10)

    async def _open(self, address: str, ocpp: FakeOcpp | None) -> None:
        self.bus = await connect(address)

        def on_message(msg: Message) -> None:
            if msg.message_type == MessageType.SIGNAL and msg.interface == CHARGER.interface:
                self.signals.append((msg.member or "", list(msg.body)))

        self.bus.add_message_handler(on_message)
        rule = f"type='signal',interface='{CHARGER.interface}'"
        await call(self.bus, _DBUS, "AddMatch", "s", [rule])
        if ocpp is not None:
            self.bus.export(OCPP.path, ocpp)
            await self.bus.request_name(OCPP.bus_name)

    def call(self, member: str, signature: str, *body: Any) -> Any:
        """A Charger1 call through the project's client (errors come back as our classes)."""
        pending = call(self.bus, CHARGER, member, signature, list(body))
        return asyncio.run_coroutine_threadsafe(pending, self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.bus.disconnect)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Stack:
    """Plant, meter and charger as real processes; ``tool`` is busctl on their bus."""

    def __init__(self, config: str, ocpp: FakeOcpp | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="evnet-resv-"))
        self.config = self.dir / "evnet.toml"
        self.config.write_text(config)
        self.daemon, self.address = start_bus(self.dir)
        self.peer = BusPeer(self.address, ocpp)
        self.processes = [self._start(name) for name in ("plant", "meter", "charger")]
        self.tool = BusTool(self.address)
        until(self.tool, "PERMIT", lambda: self.tool.get("Plant1", "Permit") is True)

    def _start(self, name: str) -> ServiceProcess:
        process = ServiceProcess(name, self.address, self.dir / "state", self.config)
        process.wait_ready()
        return process

    def restart_charger(self) -> None:
        self.processes.pop().close()
        self.processes.append(self._start("charger"))

    def signals(self, member: str) -> list[list[Any]]:
        return [body for name, body in list(self.peer.signals) if name == member]

    def close(self) -> None:
        for process in reversed(self.processes):
            process.close()
        self.peer.close()
        self.daemon.terminate()
        self.daemon.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


LOCAL = f"""
[charger]
auth_mode = "rfid"
local_tokens = ["{CARD}", "{OTHER}"]
"""


@pytest.fixture
def local() -> Iterator[Stack]:
    stack = Stack(LOCAL)
    yield stack
    stack.close()


def reserve(tool: BusTool, reservation_id: int, tag: str, parent: str = "", in_s: float = 600.0) -> str:
    answer = tool.call("Charger1", "Reserve", "issd", str(reservation_id), tag, parent, str(time.time() + in_s))
    return str(answer[0])


def card(tool: BusTool, uid: str) -> None:
    tool.plant("PresentCard", "s", uid)


def plug_and_ask(tool: BusTool) -> None:
    tool.plant("Plug", "u", "32")
    tool.plant("SetEvState", "s", "C")


def test_reserved_connector_takes_only_its_tag(local: Stack) -> None:
    tool = local.tool
    until(tool, "Available", lambda: prop(tool, "Status") == "Available")
    assert reserve(tool, 7, CARD.lower()) == "Accepted"
    until(tool, "Reserved", lambda: prop(tool, "Status") == "Reserved")
    assert list(tool.get("Plant1", "Led")[:3]) == [255, 160, 0]
    assert prop(tool, "Reservation")["reservation_id"] == 7 and prop(tool, "Reservation")["id_tag"] == CARD
    assert reserve(tool, 8, OTHER) == "Occupied"  # reserved under another id
    assert reserve(tool, 7, CARD, in_s=900) == "Accepted"  # the same id replaces it
    assert "id tag" in tool.call_error("Charger1", "Reserve", "issd", "9", "", "", str(time.time() + 60))
    assert "reserved for another tag" in tool.call_error("Charger1", "StartSession", "s", "APP-USER")

    plug_and_ask(tool)
    time.sleep(0.5)
    assert prop(tool, "Status") == "Reserved"  # plugged in, not the reserved tag yet
    since = time.monotonic()
    card(tool, OTHER)
    until(tool, "reject beeps", lambda: beeps(tool, since) == 3, 5)
    assert prop(tool, "Session") == {} and prop(tool, "Status") == "Reserved"

    card(tool, CARD)
    until(tool, "charging", lambda: prop(tool, "Status") == "Charging", 15)
    session = prop(tool, "Session")
    assert session["id_tag"] == CARD and session["reservation_id"] == 7 and session["transaction_id"] == -1
    assert prop(tool, "Reservation") == {}
    assert local.signals("ReservationEnded") == [[7, "Used"]]
    assert reserve(tool, 10, OTHER) == "Occupied"  # a session runs
    rows: Any = plain(tool.call("Charger1", "Sessions", "u", "1")[0])
    assert rows[0]["reservation_id"] == 7 and rows[0]["stop_reason"] == ""


def test_reservation_expires_is_cancelled_and_survives_a_restart(local: Stack) -> None:
    tool = local.tool
    until(tool, "Available", lambda: prop(tool, "Status") == "Available")
    assert reserve(tool, 1, CARD, in_s=4.0) == "Accepted"
    until(tool, "Reserved", lambda: prop(tool, "Status") == "Reserved", 3)
    until(tool, "expired", lambda: prop(tool, "Status") == "Available", 8)
    assert local.signals("ReservationEnded") == [[1, "Expired"]] and prop(tool, "Reservation") == {}

    assert reserve(tool, 2, CARD) == "Accepted"
    local.restart_charger()
    until(tool, "Reserved after the restart", lambda: prop(tool, "Status") == "Reserved")
    assert prop(tool, "Reservation")["reservation_id"] == 2
    assert tool.call("Charger1", "CancelReservation", "i", "3") == [False]  # unknown: kept
    assert prop(tool, "Status") == "Reserved"
    assert tool.call("Charger1", "CancelReservation", "i", "2") == [True]
    until(tool, "Available", lambda: prop(tool, "Status") == "Available")
    assert [2, "Cancelled"] in local.signals("ReservationEnded")

    # another tag charges afterwards, with no reservation id (TC_051)
    plug_and_ask(tool)
    card(tool, OTHER)
    until(tool, "charging", lambda: prop(tool, "Status") == "Charging", 15)
    assert prop(tool, "Session")["reservation_id"] == -1


def test_reserve_answers_unavailable_and_faulted(local: Stack) -> None:
    tool = local.tool
    until(tool, "Available", lambda: prop(tool, "Status") == "Available")
    tool.call("Charger1", "SetAvailable", "b", "false")
    until(tool, "Unavailable", lambda: prop(tool, "Status") == "Unavailable")
    assert reserve(tool, 1, CARD) == "Unavailable"
    tool.call("Charger1", "SetAvailable", "b", "true")
    tool.plant("SetFault", "sb", "tamper", "true")
    until(tool, "Faulted", lambda: prop(tool, "Status") == "Faulted")
    assert reserve(tool, 1, CARD) == "Faulted"
    assert reserve(tool, 1, CARD, in_s=-5) == "Rejected"  # already over
    assert prop(tool, "Reservation") == {}


def test_connection_timeout_drops_an_authorisation_given_before_the_plug(local: Stack) -> None:
    tool = local.tool
    until(tool, "Available", lambda: prop(tool, "Status") == "Available")
    assert "connection timeout" in tool.call_error("Charger1", "SetConnectionTimeout", "u", "0")
    tool.call("Charger1", "SetConnectionTimeout", "u", "4")
    card(tool, CARD)
    until(tool, "Preparing while it waits for the plug", lambda: prop(tool, "Status") == "Preparing", 4)
    started = time.monotonic()
    until(tool, "Available after the timeout", lambda: prop(tool, "Status") == "Available", 8)
    assert 2.0 < time.monotonic() - started < 6.0
    plug_and_ask(tool)
    time.sleep(1.0)
    assert prop(tool, "Session") == {}  # the authorisation is gone
    tool.call("Charger1", "StartSession", "s", "APP-USER")  # the EV is there: starts at once
    until(tool, "charging", lambda: prop(tool, "Status") == "Charging", 15)
    assert "Reboot" in tool.call_error("Charger1", "StopSessionWithReason", "s", "PowerLoss")
    tool.call("Charger1", "StopSessionWithReason", "s", "EmergencyStop")
    until(tool, "stopped", lambda: prop(tool, "Session") == {})
    rows: Any = plain(tool.call("Charger1", "Sessions", "u", "1")[0])
    assert rows[0]["stop_reason"] == "EmergencyStop"


def test_ocpp_authorize_with_a_parent_id_tag_and_transaction_ids() -> None:
    ocpp = FakeOcpp({"AA000001": (True, "FLEET"), "AA000002": (True, "FLEET"), "AA000003": (True, "")})
    stack = Stack('[charger]\nauth_mode = "ocpp"\noffline_charge = false\n', ocpp)
    try:
        tool = stack.tool
        until(tool, "Available", lambda: prop(tool, "Status") == "Available")
        assert reserve(tool, 5, "AA000001", "FLEET") == "Accepted"
        plug_and_ask(tool)
        since = time.monotonic()
        card(tool, "AA000003")  # accepted by the CSMS, but no parent in common
        until(tool, "reject beeps", lambda: beeps(tool, since) == 3, 5)
        assert prop(tool, "Session") == {} and prop(tool, "Status") == "Reserved"
        card(tool, "AA000002")  # same parent as the reservation (TC_053)
        until(tool, "charging", lambda: prop(tool, "Status") == "Charging", 15)
        assert ocpp.asked == ["AA000003", "AA000002"]
        session = prop(tool, "Session")
        assert (session["id_tag"], session["reservation_id"]) == ("AA000002", 5)
        assert session["start_wh"] >= 0 and session["transaction_id"] == -1

        tool.call("Charger1", "SetTransactionId", "ui", str(session["id"]), "42")
        until(tool, "transaction id", lambda: prop(tool, "Session")["transaction_id"] == 42, 3)
        assert "no such session" in tool.call_error("Charger1", "SetTransactionId", "ui", "999", "1")
        with pytest.raises(InvalidArgument):
            stack.peer.call("SetTransactionId", "ui", 999, 1)
        until(tool, "some energy", lambda: prop(tool, "Session")["energy_wh"] > 0.5, 20)
        tool.plant("Unplug")
        until(tool, "stopped", lambda: prop(tool, "Session") == {})
        rows: Any = plain(tool.call("Charger1", "Sessions", "u", "5")[0])
        row = rows[0]
        assert (row["transaction_id"], row["reservation_id"], row["stop_reason"]) == (42, 5, "EVDisconnected")
        assert row["last_wh"] - row["start_wh"] == pytest.approx(row["energy_wh"]) and row["energy_wh"] > 0
        tool.call("Charger1", "SetTransactionId", "ui", str(row["id"]), "43")  # a late StartTransaction.conf
        again: Any = plain(tool.call("Charger1", "Sessions", "u", "1")[0])
        assert again[0]["transaction_id"] == 43
    finally:
        stack.close()


def test_rcd_selftest_before_each_session() -> None:
    stack = Stack("[charger]\nrcd_selftest_before_session = true\n")
    try:
        tool = stack.tool
        until(tool, "Available", lambda: prop(tool, "Status") == "Available")
        since = time.monotonic()
        plug_and_ask(tool)
        until(tool, "charging", lambda: prop(tool, "Status") == "Charging", 15)
        # Charging is published with the contactor request; the plant logs the closing after it
        until(tool, "contactor closed", lambda: ("contactor-closed", "1") in [(n, v) for _, n, v in tool.events(since)])
        events = tool.events(since)
        tested = next(t for t, name, value in events if (name, value) == ("rcd_test", "1"))
        closed = next(t for t, name, value in events if (name, value) == ("contactor-closed", "1"))
        assert tested < closed  # the test ran, and before the contactor closed
        tool.plant("Unplug")
        until(tool, "Available", lambda: prop(tool, "Status") == "Available", 10)

        # the RCD input is active: the meter cannot run the test, the gate times out
        tool.plant("SetFault", "sb", "rcd-ac", "true")
        until(tool, "GroundFailure", lambda: prop(tool, "ErrorCode") == "GroundFailure")
        since = time.monotonic()
        plug_and_ask(tool)
        until(tool, "a session", lambda: prop(tool, "Session") != {}, 5)
        time.sleep(6.0)  # past the gate's 5 s
        tool.plant("SetFault", "sb", "rcd-ac", "false")
        # the meter recovers by its own rule (tripped with no EV, then a passing test) ...
        until(tool, "meter clear", lambda: tool.get("Meter1", "ErrorCode") == "NoError", 10)
        time.sleep(1.0)
        # ... but this session's test failed: no energy for it
        assert (prop(tool, "Status"), prop(tool, "ErrorCode")) == ("Faulted", "GroundFailure")
        assert prop(tool, "ErrorInfo") == "rcd-selftest"
        assert not any((name, value) == ("contactor-closed", "1") for _, name, value in tool.events(since))
        tool.plant("Unplug")
        until(tool, "Available after the unplug", lambda: prop(tool, "Status") == "Available", 10)
    finally:
        stack.close()
