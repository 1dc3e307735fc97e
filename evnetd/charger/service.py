"""The charge-control daemon: pilot, contactor, lock, cards, LED ring and sessions.

A loop (every 5 ms with an EV connected, 100 ms without) reads the pilot peaks and PP,
feeds the detector and the controller core, and carries out its actions at once
(contactor first). Everything else (cards, the
meter's state, operator calls) changes the inputs of the next step. It charges without
any other daemon but the meter: without OCPP it applies the offline rules, without the
meter it refuses to close (the meter owns PERMIT).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

from dbus_fast import Variant
from dbus_fast.aio import MessageBus

from evnetd.bus.client import call, watch_service
from evnetd.bus.connection import connect
from evnetd.bus.errors import InvalidArgument, InvalidState, NotAvailable
from evnetd.bus.names import CHARGER, METER, OCPP
from evnetd.charger.authorization import Authorizer, AuthResult, OcppUnavailable
from evnetd.charger.interface import ChargerInterface
from evnetd.charger.led import Brightness, led_for
from evnetd.charger.sessions import Session, SessionStore
from evnetd.charger.settings import SettingsStore
from evnetd.hal import board
from evnetd.hal.backends import ChargerHardware, open_charger_hardware
from evnetd.hal.errors import HalError
from evnetd.iec61851.controller import Actions, ChargeController, ControllerConfig, Observation
from evnetd.iec61851.lock import LockCommand
from evnetd.iec61851.pilot import PilotDetector, PilotReading, PilotReport, PilotState
from evnetd.iec61851.proximity import Plug, Proximity, ProximityDecoder
from evnetd.iec61851.status import ErrorCode, Fault
from evnetd.limits.arbitration import Arbiter, KeepAwake, LimitError, LimitSource
from evnetd.runtime.config import Config
from evnetd.runtime.daemon import cancel_tasks, essential
from evnetd.runtime.log import fields

log = logging.getLogger("evnet.charger")

STEP_ACTIVE_S = 0.005  # EV connected: two readings (the detector's rule) within 10 ms
STEP_IDLE_S = 0.1  # no EV: a plug-in is seen within 200 ms at a fraction of the CPU
CARD_POLL_S = 0.2
LOCK_PULSE_S = 0.6
METER_SILENT_S = 2.5  # two missed 1 Hz updates (its death is seen at once from the bus)
BEEP_S = 0.1
CONNECTED = (PilotState.B, PilotState.C, PilotState.D)
# OCPP 1.6 StopTransaction reasons a caller may give (the others are the charger's own)
STOP_REASONS = ("Remote", "Local", "HardReset", "SoftReset", "DeAuthorized", "Other")
EXTERNAL_SOURCES = (LimitSource.OCPP, LimitSource.ENERGY, LimitSource.REMOTE)


class ChargerService:
    name = "evnet-charger"

    def __init__(self, config: Config) -> None:
        self.config = config
        c = config.charger
        self.interface = ChargerInterface(self)
        self.controller = ChargeController(ControllerConfig(tethered=c.tethered, state_d_allowed=c.allow_state_d))
        self.detector = PilotDetector()
        self.proximity = ProximityDecoder(c.tethered_cable_a if c.tethered else None)
        self.arbiter = Arbiter(keep_awake=KeepAwake(c.keep_awake if c.keep_awake != "off" else "pause"))
        self.arbiter.set(LimitSource.INSTALLER, c.max_current_a)
        self.authorizer = Authorizer(c.auth_mode, c.local_tokens, self._ask_ocpp)
        self.brightness = Brightness[c.led_brightness.upper()]
        self.bus: MessageBus | None = None
        self.hw: ChargerHardware | None = None
        self.store: SessionStore | None = None
        self.settings: SettingsStore | None = None
        self.session: Session | None = None
        self.authorised = False
        self.available = True
        self._recovering: Session | None = None
        self._meter: dict[str, Any] = {}
        self._meter_heard = -math.inf
        self._ocpp: dict[str, Any] | None = None
        self._ev_state: PilotState | None = None  # the last state the EV showed (not F)
        self._pending_auth: AuthResult | None = None  # a card or remote start before the plug
        self._resolution = self.arbiter.resolve(time.monotonic())
        self._actions: Actions | None = None
        self._card: bytes | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_step = time.monotonic()
        self._wake = asyncio.Event()

    # --- life cycle -------------------------------------------------------------------
    async def start(self) -> None:
        general = self.config.general
        self.store = SessionStore(general.state_dir / "sessions.db")
        self.settings = SettingsStore(general.state_dir / "charger-settings.db")
        self.available = self.settings.get("available", "1") == "1"
        user = self.settings.get("user_limit_a", "")
        if user:
            self.arbiter.set(LimitSource.USER, float(user))
        self._recovering = self.store.open_session()
        self.bus = await connect(general.bus_address)
        self.hw = await open_charger_hardware(self.config, self.bus)
        self.hw.contactor.set(False)
        self.bus.export(CHARGER.path, self.interface)
        await self.bus.request_name(CHARGER.bus_name)
        await watch_service(self.bus, METER, self._meter_changed)
        await watch_service(self.bus, OCPP, self._ocpp_changed)
        loop = asyncio.get_running_loop()
        self._tasks = [
            essential(loop.create_task(self._control_loop())),
            essential(loop.create_task(self._card_loop())),
        ]

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        if self.hw:
            self.hw.close()  # contactor request off, PWM back to X1, ring off
        if self.store:
            if self.session:  # left open on purpose: the restart rule decides (§10.7)
                self.store.save_reading(self.session, self._register_wh() or self.session.last_wh)
            self.store.close()
        if self.settings:
            self.settings.close()
        if self.bus:
            self.bus.disconnect()

    def healthy(self) -> bool:
        return time.monotonic() - self._last_step < 1.0

    def status_line(self) -> str:
        values = self.interface.values
        return f"{values['Status']} pilot {values['Pilot'] or '?'} offered {values['OfferedCurrent']:.0f} A"

    # --- the control loop -------------------------------------------------------------
    async def _control_loop(self) -> None:
        assert self.hw is not None
        while True:
            self._wake.clear()
            now = time.monotonic()
            self._last_step = now
            try:
                self._step(now)
            except HalError as exc:
                log.error("pilot hardware: %s", exc, extra=fields(FAULT="pilot-hw"))
                self.hw.contactor.set(False)
            deadline = self._actions.next_deadline if self._actions else None
            period = STEP_ACTIVE_S if self._ev_state in CONNECTED or self.hw.contactor.get() else STEP_IDLE_S
            delay = period if deadline is None else min(period, max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _step(self, now: float) -> None:
        assert self.hw is not None
        adc = self.hw.pilot_adc
        duty = self.hw.pwm.duty()
        reading = PilotReading(
            board.cp_volts(adc.read_volts(board.MCP_CP_HIGH)),
            board.cp_volts(adc.read_volts(board.MCP_CP_LOW)),
            duty,
        )
        report = self.detector.feed(reading, now)
        proximity = self.proximity.decode(board.pp_ohms(adc.read_volts(board.MCP_PP)))
        if report is None:
            return
        self._on_pilot(report)
        limits = self._resolve_limits(proximity, now)
        obs = Observation(
            pilot=report.state,
            diode=report.diode,
            proximity=proximity,
            permit=bool(self._meter.get("Permit", False)),
            contactor_closed=self.hw.mirror.value(),
            load_voltage=bool(self._meter.get("LoadLive", False)),
            locked=self.hw.lock_feedback.value(),
            offered_a=limits,
            authorised=self.authorised,
            available=self.available,
            meter_alive=now - self._meter_heard < METER_SILENT_S,
            meter_fault=self._meter_fault(),
        )
        actions = self.controller.step(obs, now)
        self._carry_out(actions, obs)
        self._actions = actions

    def _carry_out(self, actions: Actions, obs: Observation) -> None:
        assert self.hw is not None
        self.hw.contactor.set(actions.contactor)
        self.hw.pwm.set_duty(actions.duty)
        if actions.lock is not None:
            self._pulse_lock(actions.lock)
        if actions.drop_permit:
            self._request_permit_hold()
        status = actions.status.value
        online = self._ocpp is None or bool(self._ocpp.get("Connected", False))
        self.hw.led.show(led_for(status, online or not self.config.ocpp.url, self.brightness))
        self._publish_state(actions, obs)
        if self.session is not None and self.store is not None:
            register = self._register_wh()
            if register is not None:
                self.session = self.store.refresh(self.session, register)

    def _pulse_lock(self, command: LockCommand) -> None:
        assert self.hw is not None
        locking = command is LockCommand.LOCK
        line, other = (self.hw.lock_a, self.hw.lock_b) if locking else (self.hw.lock_b, self.hw.lock_a)
        other.set(False)
        line.set(True)
        asyncio.get_running_loop().call_later(LOCK_PULSE_S, line.set, False)
        log.info("lock motor: %s", command.value)

    # --- sessions ---------------------------------------------------------------------
    def _on_pilot(self, report: PilotReport) -> None:
        """Plug-in and unplug, judged on the EV's own states: F is our signal and hides it."""
        if report.state in (PilotState.F, PilotState.INVALID):
            return
        was, self._ev_state = self._ev_state, report.state
        connected = report.state in CONNECTED
        if self._recovering is not None:
            self._recover(self._recovering, connected)
            self._recovering = None
        if connected and was not in CONNECTED:
            log.info("EV connected (pilot %s)", report.state.value)
            if self.session is None and (self.authorizer.plug_and_charge or self._offline_charge()):
                self._start(self.authorizer.free())
            elif self._pending_auth is not None and self.session is None:
                self._start(self._pending_auth)
                self._pending_auth = None
        if report.state is PilotState.A and was in CONNECTED:
            log.info("EV disconnected")
            if self.session is not None:
                self._stop("EVDisconnected")

    def _recover(self, open_session: Session, connected: bool) -> None:
        """DESIGN.md §10.7: resume when the EV is still there, else close as PowerLoss."""
        assert self.store is not None
        register = self._register_wh()
        consistent = register is not None and register >= open_session.last_wh
        if connected and consistent:
            self.session = open_session
            self.authorised = True
            log.warning("session %d resumed after a restart", open_session.id,
                        extra=fields(SESSION_ID=open_session.id))  # fmt: skip
        else:
            closed = self.store.stop(open_session, None, "PowerLoss")
            log.warning("session %d closed after a restart (PowerLoss), %.3f kWh",
                        closed.id, closed.energy_wh / 1000, extra=fields(SESSION_ID=closed.id))  # fmt: skip
            self.interface.SessionStopped(closed.id, "PowerLoss", closed.energy_wh)

    def _start(self, auth: AuthResult) -> None:
        assert self.store is not None
        register = self._register_wh()
        self.session = self.store.start(auth.id_tag, register if register is not None else 0.0)
        self.authorised = True
        log.info("session %d started for %s (%s)", self.session.id, auth.id_tag, auth.reason,
                 extra=fields(SESSION_ID=self.session.id))  # fmt: skip
        self.interface.SessionStarted(self.session.id, auth.id_tag, self.session.start_wh)
        self._wake.set()

    def _stop(self, reason: str) -> None:
        assert self.store is not None and self.session is not None
        closed = self.store.stop(self.session, self._register_wh(), reason)
        self.session = None
        self.authorised = False
        log.info("session %d stopped (%s), %.3f kWh", closed.id, reason, closed.energy_wh / 1000,
                 extra=fields(SESSION_ID=closed.id))  # fmt: skip
        self.interface.SessionStopped(closed.id, reason, closed.energy_wh)
        self._wake.set()

    def _register_wh(self) -> float | None:
        value = self._meter.get("EnergyWh")
        return None if value is None or math.isnan(value) else float(value)

    # --- cards --------------------------------------------------------------------------
    async def _card_loop(self) -> None:
        assert self.hw is not None
        while True:
            await asyncio.sleep(CARD_POLL_S)
            try:
                card = self.hw.nfc.poll()
            except HalError as exc:
                log.error("card reader: %s", exc, extra=fields(FAULT="reader"))
                continue
            if card is not None and card != self._card:
                await self._on_card(card.hex().upper())
            self._card = card

    async def _on_card(self, uid: str) -> None:
        if self.session is not None:
            if uid == self.session.id_tag:
                self._beep(1)
                self._stop("Local")
            else:
                log.info("card %s ignored: a session for another card is running", uid)
                self._beep(3)
            return
        result = await self.authorizer.authorize(uid)
        log.info("card %s %s: %s", uid, "accepted" if result.accepted else "rejected", result.reason)
        self._beep(1 if result.accepted else 3)
        if not result.accepted:
            return
        if self._ev_state in CONNECTED:
            self._start(result)
        else:
            self._pending_auth = result

    def _beep(self, count: int) -> None:
        assert self.hw is not None
        loop = asyncio.get_running_loop()
        for k in range(count):
            loop.call_later(2 * k * BEEP_S, self.hw.buzzer.set, True)
            loop.call_later((2 * k + 1) * BEEP_S, self.hw.buzzer.set, False)

    def _offline_charge(self) -> bool:
        """OCPP mode with no backend reachable: charge on plug-in when the installer allows it."""
        online = self._ocpp is not None and bool(self._ocpp.get("Connected", False))
        return self.config.charger.auth_mode == "ocpp" and self.config.charger.offline_charge and not online

    async def _ask_ocpp(self, tag: str) -> bool:
        if self.bus is None or self._ocpp is None or not self._ocpp.get("Connected", False):
            raise OcppUnavailable("no OCPP link")
        try:
            return bool(await call(self.bus, OCPP, "Authorize", "s", [tag]))
        except NotAvailable as exc:
            raise OcppUnavailable(str(exc)) from exc

    # --- what we hear from the meter and OCPP ------------------------------------------
    def _meter_changed(self, props: dict[str, Any] | None) -> None:
        if props is None:
            if self._meter:
                log.error("metering service gone: contactor opened", extra=fields(FAULT="meter-silent"))
            self._meter = {}
            self._meter_heard = -math.inf
        else:
            self._meter.update(props)
            self._meter_heard = time.monotonic()
            if "DeratingLimit" in props:
                limit = props["DeratingLimit"]
                if math.isnan(limit):
                    self.arbiter.clear(LimitSource.THERMAL)
                else:
                    self.arbiter.set(LimitSource.THERMAL, limit)
        self._wake.set()

    def _ocpp_changed(self, props: dict[str, Any] | None) -> None:
        self._ocpp = None if props is None else {**(self._ocpp or {}), **props}

    def _meter_fault(self) -> Fault | None:
        if self._meter.get("Permit", True) or not self._meter.get("SelfChecksOk", False):
            return None
        code = self._meter.get("ErrorCode", "NoError")
        faults = self._meter.get("ActiveFaults", [])
        if code == "NoError":
            return None
        return Fault(ErrorCode(code), faults[0] if faults else "")

    def _request_permit_hold(self) -> None:
        if self.bus is None:
            return
        task = asyncio.ensure_future(call(self.bus, METER, "HoldPermit", "s", ["welded contactor"]))
        task.add_done_callback(_log_failure)

    # --- limits and publication -------------------------------------------------------
    def _resolve_limits(self, proximity: Proximity, now: float) -> float | None:
        if proximity.plug is Plug.PRESENT and proximity.rating_a is not None:
            self.arbiter.set(LimitSource.CABLE, min(proximity.rating_a, 32))
        else:
            self.arbiter.clear(LimitSource.CABLE)
        resolution = self.arbiter.resolve(now)
        self._resolution = resolution
        return resolution.offered_a

    def _publish_state(self, actions: Actions, obs: Observation) -> None:
        resolution = self._resolution
        session: dict[str, Variant] = {}
        if self.session is not None:
            s = self.session
            register = self._register_wh()
            energy = (register if register is not None else s.last_wh) - s.start_wh
            session = {
                "id": Variant("u", s.id), "id_tag": Variant("s", s.id_tag),
                "energy_wh": Variant("d", round(max(0.0, energy), 3)), "started_at": Variant("d", s.started_at),
                "transaction_id": Variant("i", s.transaction_id if s.transaction_id is not None else -1),
            }  # fmt: skip
        rating = obs.proximity.rating_a if obs.proximity.rating_a is not None else 0
        self.interface.publish({
            "Status": actions.status.value, "ErrorCode": actions.error.code.value, "ErrorInfo": actions.error.info,
            "Pilot": obs.pilot.value, "CableRating": rating,
            "OfferedCurrent": math.nan if obs.offered_a is None else obs.offered_a,
            "SignalledCurrent": math.nan if actions.signalled_a is None else actions.signalled_a,
            "LimitSource": resolution.source.value,
            "Limits": {limit.source.value: limit.amps for limit in resolution.limits},
            "Duty": actions.duty, "Locked": obs.locked, "ContactorClosed": obs.contactor_closed,
            "Available": self.available, "Session": session,
        })  # fmt: skip

    # --- operator methods (org.evnet.Charger1) --------------------------------------------
    def start_session(self, id_tag: str) -> None:
        if self.session is not None:
            raise InvalidState(f"session {self.session.id} is already running")
        if not self.available:
            raise InvalidState("the connector is inoperative")
        auth = self.authorizer.remote(id_tag)
        if self._ev_state in CONNECTED:
            self._start(auth)
        else:
            self._pending_auth = auth

    def stop_session(self, reason: str = "Remote") -> None:
        if reason not in STOP_REASONS:
            raise InvalidArgument(f"stop reason {reason!r}: must be one of {', '.join(STOP_REASONS)}")
        if self.session is None:
            if self._pending_auth is not None:
                self._pending_auth = None
                return
            raise InvalidState("no session is running")
        self._stop(reason)

    async def present_token(self, id_tag: str) -> None:
        """A token from elsewhere (the web client, an app): the same path as a card."""
        if not id_tag.strip():
            raise InvalidArgument("id tag: must not be empty")
        await self._on_card(id_tag)

    def set_limit(self, source: str, amps: float, expires_in_s: float) -> None:
        """A limit from OCPP or energy management; ``expires_in_s`` ≤ 0: until changed."""
        try:
            limit_source = LimitSource(source)
        except ValueError:
            names = ", ".join(s.value for s in EXTERNAL_SOURCES)
            raise InvalidArgument(f"limit source {source!r}: must be one of {names}") from None
        if limit_source not in EXTERNAL_SOURCES:
            names = ", ".join(s.value for s in EXTERNAL_SOURCES)
            raise InvalidArgument(f"limit source {source!r}: must be one of {names}")
        if not math.isfinite(amps) or amps < 0:
            raise InvalidArgument(f"limit {amps}: must be a finite number of amps ≥ 0")
        expires = time.monotonic() + expires_in_s if expires_in_s > 0 else None
        try:
            self.arbiter.set(limit_source, amps, expires)
        except LimitError as exc:
            raise InvalidArgument(str(exc)) from None
        self._wake.set()

    def unlock(self) -> None:
        if self.config.charger.tethered:
            raise InvalidState("a tethered cable has no lock")
        if self.session is not None:
            self._stop("UnlockCommand")
        self.controller.request_unlock()
        self._wake.set()

    def set_user_limit(self, amps: float) -> None:
        assert self.settings is not None
        if not math.isfinite(amps) or amps < 0:
            raise InvalidArgument(f"user limit {amps}: must be a finite number of amps ≥ 0")
        try:
            if amps >= 32:
                self.arbiter.clear(LimitSource.USER)
                self.settings.delete("user_limit_a")
            else:
                self.arbiter.set(LimitSource.USER, amps)
                self.settings.set("user_limit_a", f"{amps:g}")
        except LimitError as exc:
            raise InvalidArgument(str(exc)) from None
        self._wake.set()

    def set_available(self, available: bool) -> None:
        assert self.settings is not None
        self.available = available
        self.settings.set("available", "1" if available else "0")
        self._wake.set()

    def clear_faults(self) -> None:
        self.controller.clear_faults()
        self._wake.set()

    def sessions(self, limit: int) -> list[dict[str, Any]]:
        assert self.store is not None
        return [
            {
                "id": Variant("u", s.id), "id_tag": Variant("s", s.id_tag),
                "started_at": Variant("d", s.started_at), "energy_wh": Variant("d", s.energy_wh),
                "stopped_at": Variant("d", s.stopped_at if s.stopped_at is not None else math.nan),
                "stop_reason": Variant("s", s.stop_reason or ""),
            }
            for s in self.store.recent(limit)
        ]


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("PERMIT hold request failed: %s", task.exception(), extra=fields(FAULT="hold"))
