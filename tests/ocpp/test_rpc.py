"""StrictChargePoint answers every bad CALL with the OCPP-J 1.6 CALLERROR, byte for byte, and survives it.

The connection is a fake (``send`` records text, ``recv`` reads a queue); the tests feed frames into
``route_message`` or through a running ``start()`` and compare the exact JSON that went out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from ocpp import exceptions as errors
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    Action,
    ChargingProfileStatus,
    ConfigurationStatus,
    DataTransferStatus,
    GetCompositeScheduleStatus,
    RemoteStartStopStatus,
    ResetStatus,
    TriggerMessageStatus,
)

from evnetd.ocpp.rpc import StrictChargePoint

GENERIC = "Any other error not all other OCPP defined errors"
FORMATION = "Payload for Action is syntactically incorrect or structure for Action"
PROPERTY = "Payload is syntactically correct but at least one field contains an invalid value"
OCCURENCE = "Payload for Action is syntactically correct but at least one of the fields violates occurence constraints"
INTERNAL = "An internal error occurred and the receiver was not able to process the requested Action successfully"
NOT_IMPLEMENTED = "Requested Action is not known by receiver"
NOT_SUPPORTED = "Requested Action is recognized but not supported by the receiver"
SECURITY = "no access"
TYPE = (
    "Payload for Action is syntactically correct but at least one of the fields violates data type constraints"
    " (e.g. “somestring”: 12)"
)


def frame(*elements: Any) -> str:
    """The OCPP-J text of a frame, encoded the way the library encodes what it sends."""
    return json.dumps(list(elements), separators=(",", ":"))


def call_error(unique_id: str, code: str, description: str, details: dict[str, Any]) -> str:
    return frame(4, unique_id, code, description, details)


class FakeConnection:
    """Stands in for the websocket: records what is sent, hands out what the test queued."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.inbox: asyncio.Queue[str | bytes] = asyncio.Queue()

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str | bytes:
        return await self.inbox.get()


def _raise(error: Exception) -> Any:
    raise error


# DataTransfer messageId -> what the handler does; covers handler errors and broken answers.
DATA_TRANSFER_BEHAVIOUR: dict[str, Any] = {
    "format": lambda: _raise(errors.FormatViolationError()),
    "occurrence": lambda: _raise(errors.OccurrenceConstraintViolationError()),
    "type": lambda: _raise(errors.TypeConstraintViolationError()),
    "security": lambda: _raise(errors.SecurityError(description=SECURITY, details={"why": "locked"})),
    "not-supported": lambda: _raise(errors.NotSupportedError()),
    "odd-details": lambda: _raise(errors.GenericError(details={"thing": object()})),
    "value": lambda: _raise(ValueError("handler bug")),
    "bad-status": lambda: call_result.DataTransfer(status="Maybe"),
    "not-dataclass": lambda: {"status": "Accepted"},
}


class Service(StrictChargePoint):
    """A charge point with just enough handlers; UpdateFirmware deliberately has none."""

    def __init__(self, connection: FakeConnection) -> None:
        super().__init__("CP1", connection, response_timeout=2)
        self.connection = connection
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.after_log: list[tuple[str, int]] = []
        self.composite_limit: Any = Decimal("16.0")

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        self.requests.append(("ChangeConfiguration", {"key": key, "value": value}))
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> call_result.SetChargingProfile:
        self.requests.append(("SetChargingProfile", cs_charging_profiles))
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(
        self, vendor_id: str, call_unique_id: str, message_id: str = "", data: str = ""
    ) -> call_result.DataTransfer:
        if message_id in DATA_TRANSFER_BEHAVIOUR:
            return DATA_TRANSFER_BEHAVIOUR[message_id]()
        return call_result.DataTransfer(status=DataTransferStatus.accepted, data=call_unique_id)

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id: int, duration: int) -> call_result.GetCompositeSchedule:
        schedule = {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": self.composite_limit}],
        }
        return call_result.GetCompositeSchedule(
            status=GetCompositeScheduleStatus.accepted, connector_id=connector_id, charging_schedule=schedule
        )

    @on(Action.cancel_reservation, skip_schema_validation=True)
    def on_cancel_reservation(self, reservation_id: Any) -> call_result.CancelReservation:
        return call_result.CancelReservation(status=f"Unchecked {reservation_id}")

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag: str, **kwargs: Any) -> call_result.RemoteStartTransaction:
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @after(Action.remote_start_transaction)
    async def after_remote_start_transaction(self, id_tag: str, **kwargs: Any) -> None:
        self.after_log.append((id_tag, len(self.connection.sent)))
        if id_tag == "BOOM":
            raise RuntimeError("async after hook failed")

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        return call_result.Reset(status=ResetStatus.accepted)

    @after(Action.reset)
    def after_reset(self, type: str) -> None:
        raise RuntimeError("sync after hook failed")

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, **kwargs: Any) -> call_result.TriggerMessage:
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @after(Action.trigger_message)
    async def after_trigger_message(self, requested_message: str, **kwargs: Any) -> None:
        result = await self.call(call.Heartbeat(), suppress=False)
        self.after_log.append((result.current_time, len(self.connection.sent)))


@pytest.fixture
def connection() -> FakeConnection:
    return FakeConnection()


@pytest.fixture
def cp(connection: FakeConnection) -> Service:
    return Service(connection)


def profile(**schedule: Any) -> dict[str, Any]:
    """A SetChargingProfile payload; ``schedule`` overrides fields of the charging schedule."""
    charging_schedule = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.1}]}
    charging_schedule.update(schedule)
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 7,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": charging_schedule,
        },
    }


LONG_KEY = "ThisIsMuchLongerThan50characters" * 2
ACCEPTED = frame(3, "ok", {"status": "Accepted"})

# (inbound frame, exact answer or None for silence)
CASES: dict[str, tuple[str | bytes, str | None]] = {
    "not JSON": ("hello", call_error("-1", "GenericError", GENERIC, {"cause": "frame is not UTF-8 JSON"})),
    "bytes, not UTF-8": (
        b"\xd8\x00\x00\x00",
        call_error("-1", "GenericError", GENERIC, {"cause": "frame is not UTF-8 JSON"}),
    ),
    "truncated CALL keeps its id": (
        '[2, "a\\"1", "Heartbeat", {',
        call_error('a"1', "GenericError", GENERIC, {"cause": "frame is not UTF-8 JSON"}),
    ),
    "NaN is not JSON": (
        '[2,"n","DataTransfer",{"vendorId":"x","data":NaN}]',
        call_error("n", "GenericError", GENERIC, {"cause": "frame is not UTF-8 JSON"}),
    ),
    "absurd nesting": ("[" * 100_000, call_error("-1", "GenericError", GENERIC, {"cause": "frame is not UTF-8 JSON"})),
    "UTF-8 bytes are read as text": (
        frame(2, "ok", "ChangeConfiguration", {"key": "Größe", "value": "1"}).encode(),
        ACCEPTED,
    ),
    "not an array": ('{"a": 1}', call_error("-1", "FormationViolation", FORMATION, {"cause": "not a JSON array"})),
    "empty array": ("[]", call_error("-1", "FormationViolation", FORMATION, {"cause": "unknown MessageTypeId"})),
    "CALL too short": (
        '[2,"x"]',
        call_error("x", "FormationViolation", FORMATION, {"cause": "MessageTypeId 2 needs 4 elements"}),
    ),
    "CALL too long": (
        '[2,"x","Heartbeat",{},1]',
        call_error("x", "FormationViolation", FORMATION, {"cause": "MessageTypeId 2 needs 4 elements"}),
    ),
    "unknown MessageTypeId": (
        '[5,"id","A",{}]',
        call_error("id", "FormationViolation", FORMATION, {"cause": "unknown MessageTypeId"}),
    ),
    "MessageTypeId as string": (
        '["2","id","Heartbeat",{}]',
        call_error("id", "FormationViolation", FORMATION, {"cause": "unknown MessageTypeId"}),
    ),
    "UniqueId not a string": (
        '[2,7,"Heartbeat",{}]',
        call_error("-1", "FormationViolation", FORMATION, {"cause": "UniqueId is not a string"}),
    ),
    "Action not a string": (
        '[2,"a",7,{}]',
        call_error("a", "FormationViolation", FORMATION, {"cause": "Action is not a string"}),
    ),
    "payload not an object": (
        '[2,"p","ChangeConfiguration",[]]',
        call_error("p", "FormationViolation", FORMATION, {"cause": "Payload is not a JSON object"}),
    ),
    "malformed CALLRESULT is not answered": ('[3,"r"]', None),
    "malformed CALLERROR is not answered": ('[4,"r","GenericError"]', None),
    "unknown action": (
        frame(2, "u", "FooBar", {}),
        call_error("u", "NotImplemented", NOT_IMPLEMENTED, {"cause": "FooBar is not an OCPP 1.6 action"}),
    ),
    "1.6 action without handler": (
        frame(2, "f", "UpdateFirmware", {"location": "ftp://x", "retrieveDate": "2026-01-01T00:00:00Z"}),
        call_error(
            "f", "NotSupported", NOT_SUPPORTED, {"cause": "UpdateFirmware is not supported by this charge point"}
        ),
    ),
    "missing field": (
        frame(2, "m", "ChangeConfiguration", {"key": "HeartbeatInterval"}),
        call_error("m", "FormationViolation", FORMATION, {"cause": "'value' is a required property", "path": "$"}),
    ),
    "wrong type": (
        frame(2, "t", "ChangeConfiguration", {"key": ["HeartbeatInterval"], "value": "0"}),
        call_error(
            "t",
            "FormationViolation",
            FORMATION,
            {"cause": "['HeartbeatInterval'] is not of type 'string'", "path": "$.key"},
        ),
    ),
    "string too long": (
        frame(2, "l", "ChangeConfiguration", {"key": LONG_KEY, "value": "0"}),
        call_error("l", "FormationViolation", FORMATION, {"cause": f"'{LONG_KEY}' is too long", "path": "$.key"}),
    ),
    "additional property": (
        frame(2, "a", "ChangeConfiguration", {"key": "k", "value": "0", "additional": "123"}),
        call_error(
            "a",
            "FormationViolation",
            FORMATION,
            {"cause": "Additional properties are not allowed ('additional' was unexpected)", "path": "$"},
        ),
    ),
    "bad enum value": (
        frame(2, "e", "SetChargingProfile", profile(chargingRateUnit="X")),
        call_error(
            "e",
            "PropertyConstraintViolation",
            PROPERTY,
            {"cause": "'X' is not one of ['A', 'W']", "path": "$.csChargingProfiles.chargingSchedule.chargingRateUnit"},
        ),
    ),
    "multipleOf violated": (
        frame(2, "d", "SetChargingProfile", profile(chargingSchedulePeriod=[{"startPeriod": 0, "limit": 1.23}])),
        call_error(
            "d",
            "PropertyConstraintViolation",
            PROPERTY,
            {
                "cause": "Decimal('1.23') is not a multiple of 0.1",
                "path": "$.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit",
            },
        ),
    ),
    "minItems violated": (
        frame(2, "o", "MeterValues", {"connectorId": 1, "meterValue": []}),
        call_error(
            "o", "OccurenceConstraintViolation", OCCURENCE, {"cause": "[] should be non-empty", "path": "$.meterValue"}
        ),
    ),
    "handler raises FormatViolation": (
        frame(2, "h1", "DataTransfer", {"vendorId": "v", "messageId": "format"}),
        call_error("h1", "FormationViolation", FORMATION, {}),
    ),
    "handler raises OccurrenceConstraintViolation": (
        frame(2, "h2", "DataTransfer", {"vendorId": "v", "messageId": "occurrence"}),
        call_error("h2", "OccurenceConstraintViolation", OCCURENCE, {}),
    ),
    "handler raises TypeConstraintViolation": (
        frame(2, "h3", "DataTransfer", {"vendorId": "v", "messageId": "type"}),
        call_error("h3", "TypeConstraintViolation", TYPE, {}),
    ),
    "handler raises SecurityError": (
        frame(2, "h4", "DataTransfer", {"vendorId": "v", "messageId": "security"}),
        call_error("h4", "SecurityError", SECURITY, {"why": "locked"}),
    ),
    "handler raises NotSupported": (
        frame(2, "h5", "DataTransfer", {"vendorId": "v", "messageId": "not-supported"}),
        call_error("h5", "NotSupported", NOT_SUPPORTED, {}),
    ),
    "handler error with details JSON cannot carry": (
        frame(2, "h6", "DataTransfer", {"vendorId": "v", "messageId": "odd-details"}),
        call_error("h6", "GenericError", GENERIC, {}),
    ),
    "handler raises ValueError": (
        frame(2, "h7", "DataTransfer", {"vendorId": "v", "messageId": "value"}),
        call_error("h7", "InternalError", INTERNAL, {}),
    ),
    "own answer fails its schema": (
        frame(2, "h8", "DataTransfer", {"vendorId": "v", "messageId": "bad-status"}),
        call_error("h8", "InternalError", INTERNAL, {}),
    ),
    "own answer is not a dataclass": (
        frame(2, "h9", "DataTransfer", {"vendorId": "v", "messageId": "not-dataclass"}),
        call_error("h9", "InternalError", INTERNAL, {}),
    ),
    "route that skips validation": (
        frame(2, "k", "CancelReservation", {"reservationId": "x"}),
        frame(3, "k", {"status": "Unchecked x"}),
    ),
    "valid call, handler gets the unique id": (
        frame(2, "v1", "DataTransfer", {"vendorId": "v"}),
        frame(3, "v1", {"status": "Accepted", "data": "v1"}),
    ),
}


@pytest.mark.parametrize(("inbound", "answer"), CASES.values(), ids=CASES.keys())
async def test_answer(cp: Service, connection: FakeConnection, inbound: str | bytes, answer: str | None) -> None:
    await cp.route_message(inbound)
    assert connection.sent == ([] if answer is None else [answer])


async def wait_until(condition: Any, timeout: float = 2.0) -> None:
    """Let the event loop run until ``condition()`` holds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


@contextlib.asynccontextmanager
async def serving(cp: Service) -> AsyncIterator[asyncio.Task[None]]:
    """``cp.start()`` as a task for the duration of the block."""
    loop = asyncio.create_task(cp.start())
    try:
        yield loop
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop


def logged_exceptions(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [repr(record.exc_info[1]) for record in caplog.records if record.exc_info]


async def test_unexpected_handler_error_is_logged_with_traceback(cp: Service, caplog: pytest.LogCaptureFixture) -> None:
    await cp.route_message(frame(2, "h7", "DataTransfer", {"vendorId": "v", "messageId": "value"}))
    assert logged_exceptions(caplog) == ["ValueError('handler bug')"]


async def test_charging_profile_limits_reach_the_handler_as_decimal(cp: Service, connection: FakeConnection) -> None:
    await cp.route_message(frame(2, "s", "SetChargingProfile", profile()))
    assert connection.sent == [frame(3, "s", {"status": "Accepted"})]
    schedule = cp.requests[0][1]["charging_schedule"]
    assert schedule["charging_schedule_period"] == [{"start_period": 0, "limit": Decimal("16.1")}]


@pytest.mark.parametrize(
    ("limit", "answer"),
    [
        (
            Decimal("16.0"),
            frame(
                3,
                "g",
                {
                    "status": "Accepted",
                    "connectorId": 1,
                    "chargingSchedule": {
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
                    },
                },
            ),
        ),
        (13.33, call_error("g", "InternalError", INTERNAL, {})),
    ],
    ids=["one decimal", "two decimals"],
)
async def test_own_answer_is_validated_as_sent(
    cp: Service, connection: FakeConnection, limit: Any, answer: str
) -> None:
    cp.composite_limit = limit
    await cp.route_message(frame(2, "g", "GetCompositeSchedule", {"connectorId": 1, "duration": 60}))
    assert connection.sent == [answer]


async def test_after_hook_runs_after_the_answer(cp: Service, connection: FakeConnection) -> None:
    await cp.route_message(frame(2, "r", "RemoteStartTransaction", {"idTag": "TAG"}))
    await wait_until(lambda: cp.after_log)
    assert cp.after_log == [("TAG", 1)]
    assert connection.sent == [frame(3, "r", {"status": "Accepted"})]


async def test_after_hook_exceptions_are_logged(
    cp: Service, connection: FakeConnection, caplog: pytest.LogCaptureFixture
) -> None:
    await cp.route_message(frame(2, "r", "RemoteStartTransaction", {"idTag": "BOOM"}))
    await cp.route_message(frame(2, "x", "Reset", {"type": "Soft"}))
    await wait_until(lambda: len(logged_exceptions(caplog)) == 2)
    assert sorted(logged_exceptions(caplog)) == [
        "RuntimeError('async after hook failed')",
        "RuntimeError('sync after hook failed')",
    ]
    assert connection.sent == [frame(3, "r", {"status": "Accepted"}), frame(3, "x", {"status": "Accepted"})]


async def test_silent_mode_answers_nothing_but_still_takes_responses(
    cp: Service, connection: FakeConnection, caplog: pytest.LogCaptureFixture
) -> None:
    cp.answer_calls = False
    for inbound in (frame(2, "c", "ChangeConfiguration", {"key": "k", "value": "v"}), "hello", '[2,"x"]'):
        await cp.route_message(inbound)
    assert connection.sent == []
    assert cp.requests == []
    assert sum("answer_calls is False" in record.getMessage() for record in caplog.records) == 3

    boot = asyncio.create_task(
        cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"), unique_id="b")
    )
    await wait_until(lambda: connection.sent)
    await cp.route_message(frame(3, "b", {"currentTime": "2026-01-01T00:00:00Z", "interval": 10, "status": "Accepted"}))
    assert (await boot).status == "Accepted"


async def test_start_survives_every_bad_frame(cp: Service, connection: FakeConnection) -> None:
    inbound = [frame_in for frame_in, _ in CASES.values()]
    expected = [answer for _, answer in CASES.values() if answer is not None]
    async with serving(cp) as loop:
        for text in inbound:
            connection.inbox.put_nowait(text)
        connection.inbox.put_nowait(frame(2, "last", "ChangeConfiguration", {"key": "k", "value": "v"}))
        await wait_until(lambda: len(connection.sent) == len(expected) + 1)
        assert not loop.done()
    assert connection.sent == [*expected, frame(3, "last", {"status": "Accepted"})]


async def test_call_from_after_hook_and_responses_with_unknown_ids_are_dropped(
    cp: Service, connection: FakeConnection, caplog: pytest.LogCaptureFixture
) -> None:
    cp._unique_id_generator = lambda: "hb-1"
    async with serving(cp):
        connection.inbox.put_nowait(frame(2, "t", "TriggerMessage", {"requestedMessage": "Heartbeat"}))
        await wait_until(lambda: len(connection.sent) == 2)
        assert connection.sent == [frame(3, "t", {"status": "Accepted"}), frame(2, "hb-1", "Heartbeat", {})]

        connection.inbox.put_nowait(frame(3, "stale", {"currentTime": "2025-01-01T00:00:00Z"}))
        connection.inbox.put_nowait(frame(3, "hb-1", {"currentTime": "2026-01-01T00:00:00Z"}))
        await wait_until(lambda: cp.after_log)
    assert cp.after_log == [("2026-01-01T00:00:00Z", 2)]
    assert any("unknown unique id" in record.getMessage() for record in caplog.records)
