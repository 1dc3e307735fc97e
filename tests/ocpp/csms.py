"""A CSMS for the tests: the `ocpp` library's server side on loopback, in a thread of its own.

The charger under test runs as real processes; the tests are plain synchronous functions
that drive it with evnetctl and watch what reaches the CSMS. So the CSMS gets its own
event loop in a background thread and offers a thread-safe, blocking API:

- every frame the charger sends is recorded (action, camelCase payload, time) and
  ``wait_for`` scans recorded and new frames for the first match, like EVerest's harness;
- answers are the usual accept-everything defaults, changed per test through
  ``CsmsBehaviour`` (boot status, authorisation per tag, CALLERRORs for StartTransaction…);
- ``call`` sends a CSMS-initiated request (RemoteStart, ChangeConfiguration, …) and
  returns the charger's answer as a camelCase dict;
- ``drop`` closes the websocket (connection loss), ``refuse`` keeps the port closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.charge_point import snake_to_camel_case
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

WAIT_S = 15.0


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class Frame:
    """One CALL the charger sent us."""

    action: str
    payload: dict[str, Any]
    at: float  # monotonic time of arrival
    unique_id: str


@dataclasses.dataclass
class CsmsBehaviour:
    boot_status: str = RegistrationStatus.accepted
    boot_interval: int = 300
    tags: dict[str, str] = dataclasses.field(default_factory=dict)  # id tag → status; others Accepted
    parents: dict[str, str] = dataclasses.field(default_factory=dict)  # id tag → parentIdTag
    start_errors: int = 0  # answer this many StartTransactions with a CALLERROR first
    start_tag_status: str | None = None  # idTagInfo.status in StartTransaction.conf (default: as tags)
    answer: bool = True  # False: swallow every CALL (no response at all)
    # action → CALLRESULT payload (camelCase) sent exactly as given, unvalidated: a broken CSMS
    raw_answers: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


class _Connection(ChargePoint):
    def __init__(self, server: Csms, cp_id: str, ws: Any) -> None:
        super().__init__(cp_id, ws, response_timeout=10)
        self.server = server

    async def route_message(self, raw_msg: str) -> None:
        try:
            frame = json.loads(raw_msg)
        except ValueError:
            frame = None
        if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2:
            self.server._record(Frame(frame[2], frame[3], time.monotonic(), frame[1]))
            if not self.server.behaviour.answer:
                return
            raw_answer = self.server.behaviour.raw_answers.get(frame[2])
            if raw_answer is not None:
                await self._connection.send(json.dumps([3, frame[1], raw_answer]))
                return
        await super().route_message(raw_msg)

    def _info(self, id_tag: str) -> dict[str, Any]:
        b = self.server.behaviour
        info: dict[str, Any] = {"status": b.tags.get(id_tag, AuthorizationStatus.accepted)}
        if id_tag in b.parents:
            info["parent_id_tag"] = b.parents[id_tag]
        return info

    @on(Action.boot_notification)
    def _boot(self, **kwargs: Any) -> call_result.BootNotification:
        b = self.server.behaviour
        return call_result.BootNotification(current_time=now_iso(), interval=b.boot_interval, status=b.boot_status)

    @on(Action.heartbeat)
    def _heartbeat(self, **kwargs: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=now_iso())

    @on(Action.authorize)
    def _authorize(self, id_tag: str, **kwargs: Any) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info=self._info(id_tag))

    @on(Action.start_transaction)
    def _start(self, id_tag: str, **kwargs: Any) -> call_result.StartTransaction:
        b = self.server.behaviour
        if b.start_errors > 0:
            b.start_errors -= 1
            raise InternalError(description="told to fail")
        info = self._info(id_tag)
        if b.start_tag_status is not None:
            info["status"] = b.start_tag_status
        self.server.last_transaction_id = next(self.server.transaction_ids)
        return call_result.StartTransaction(transaction_id=self.server.last_transaction_id, id_tag_info=info)

    @on(Action.stop_transaction)
    def _stop(self, **kwargs: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction()

    @on(Action.status_notification)
    def _status(self, **kwargs: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def _meter_values(self, **kwargs: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def _data_transfer(self, **kwargs: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.firmware_status_notification)
    def _firmware(self, **kwargs: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    def _diagnostics(self, **kwargs: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()

    @on(Action.security_event_notification)
    def _security(self, **kwargs: Any) -> call_result.SecurityEventNotification:
        return call_result.SecurityEventNotification()

    @on(Action.sign_certificate)
    def _sign(self, **kwargs: Any) -> call_result.SignCertificate:
        return call_result.SignCertificate(status="Accepted")

    @on(Action.signed_firmware_status_notification)
    def _signed_firmware(self, **kwargs: Any) -> call_result.SignedFirmwareStatusNotification:
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.log_status_notification)
    def _log_status(self, **kwargs: Any) -> call_result.LogStatusNotification:
        return call_result.LogStatusNotification()


class Csms:
    """Start with ``Csms().start()``; ``url`` is what the charger is given (without the id)."""

    def __init__(self, tls: Any = None) -> None:
        """``tls``: an ``ssl.SSLContext`` for the server side (security profiles 2 and 3)."""
        self.tls = tls
        self.behaviour = CsmsBehaviour()
        self.frames: list[Frame] = []
        self.connections: list[tuple[str, dict[str, str]]] = []  # (path, request headers) per connect
        self.transaction_ids = itertools.count(1)
        self.last_transaction_id = 0
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="csms", daemon=True)
        self._server: Any = None
        self._current: _Connection | None = None
        self._ws: Any = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "wss" if self.tls is not None else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/ocpp"  # an address: minimal test roots resolve no names

    def start(self, port: int = 0) -> Csms:
        self._thread.start()
        self._run(self._serve(port))
        return self

    def close(self) -> None:
        self._run(self._shutdown())
        self._run(self._cancel_the_rest())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _cancel_the_rest(self) -> None:
        """Connection handlers and library tasks still running: end them before the loop stops."""
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def refuse(self) -> None:
        """Stop listening and drop the current connection (the CSMS is unreachable)."""
        self._run(self._shutdown())

    def accept(self) -> None:
        """Listen again on the same port."""
        self._run(self._serve(self.port))

    def drop(self) -> None:
        """Close the current websocket; the charger should reconnect."""
        if self._ws is not None:
            self._run(self._ws.close())

    # --- what the charger sent ----------------------------------------------------------
    def _record(self, frame: Frame) -> None:
        with self._cond:
            self.frames.append(frame)
            self._cond.notify_all()

    def mark(self) -> int:
        """A position in the frame log: ``wait_for(..., after=mark)`` ignores older frames."""
        with self._cond:
            return len(self.frames)

    def wait_for(
        self,
        action: str,
        match: Callable[[dict[str, Any]], bool] | dict[str, Any] | None = None,
        *,
        after: int = 0,
        timeout: float = WAIT_S,
    ) -> Frame:
        """The first frame of ``action`` (from position ``after``) whose payload matches."""
        if isinstance(match, dict):
            expected = match

            def match(payload: dict[str, Any]) -> bool:
                return all(payload.get(k) == v for k, v in expected.items())

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for frame in self.frames[after:]:
                    if frame.action == action and (match is None or match(frame.payload)):
                        return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(f.action, f.payload) for f in self.frames[after:]][-12:]
                    raise AssertionError(f"no {action} matching within {timeout} s; last frames: {seen}")
                self._cond.wait(remaining)

    def sent(self, action: str, after: int = 0) -> list[Frame]:
        with self._cond:
            return [f for f in self.frames[after:] if f.action == action]

    def wait_connected(self, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while self._current is None:
            if time.monotonic() > deadline:
                raise AssertionError("the charger did not connect")
            time.sleep(0.05)

    # --- CSMS-initiated requests --------------------------------------------------------
    def call(self, payload: Any, timeout: float = WAIT_S) -> dict[str, Any]:
        """Send ``payload`` (an ``ocpp.v16.call.X``) and return the answer as a camelCase dict."""
        self.wait_connected()
        assert self._current is not None
        result = self._run(self._current.call(payload, suppress=False), timeout)
        return snake_to_camel_case(dataclasses.asdict(result))  # type: ignore[no-any-return]

    def call_raw(self, text: str, timeout: float = WAIT_S) -> list[Any]:
        """Send a raw frame (possibly malformed) and return the charger's raw answer frame."""
        self.wait_connected()
        return self._run(self._raw(text, timeout), timeout + 1)  # type: ignore[no-any-return]

    # --- the loop side --------------------------------------------------------------------
    def _run(self, coro: Any, timeout: float = WAIT_S) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _serve(self, port: int) -> None:
        self._server = await websockets.serve(
            self._handler, "127.0.0.1", port, subprotocols=["ocpp1.6"], ssl=self.tls
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._current = None

    async def _handler(self, ws: Any) -> None:
        path = ws.request.path
        self.connections.append((path, dict(ws.request.headers)))
        connection = _Connection(self, path.rsplit("/", 1)[-1], ws)
        self._current, self._ws = connection, ws
        try:
            await connection.start()
        except websockets.ConnectionClosed:
            pass
        finally:
            if self._current is connection:
                self._current = None
                self._ws = None

    async def _raw(self, text: str, timeout: float) -> list[Any]:
        """Swap the connection's receive path briefly to catch the direct answer to ``text``."""
        assert self._current is not None
        ws = self._ws
        answers: asyncio.Queue[list[Any]] = asyncio.Queue()
        connection = self._current
        original = connection.route_message

        async def capture(raw: str) -> None:
            frame = json.loads(raw)
            if frame[0] in (3, 4):
                answers.put_nowait(frame)
            else:
                await original(raw)

        connection.route_message = capture  # type: ignore[method-assign]
        try:
            await ws.send(text)
            return await asyncio.wait_for(answers.get(), timeout)
        finally:
            connection.route_message = original  # type: ignore[method-assign]
