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
import dataclasses
import logging
import math
import sqlite3
import time
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from typing import Any

from dbus_fast import DBusError, Variant
from dbus_fast.aio import MessageBus

from evnetd.bus.client import call, watch_service
from evnetd.bus.connection import connect
from evnetd.bus.errors import InvalidArgument, InvalidState, NotAvailable
from evnetd.bus.names import CHARGER, METER, OCPP
from evnetd.charger.authorization import Authorizer, AuthResult, OcppUnavailable
from evnetd.charger.faultlog import Active, FaultLog, meter_error_code
from evnetd.charger.interface import ChargerInterface
from evnetd.charger.led import Brightness, led_for
from evnetd.charger.pending import PendingStart, check_timeout, connector_status
from evnetd.charger.rcd_gate import GateOutcome, GateState, RcdGate
from evnetd.charger.reservation import ConnectorState, EndReason, Reservation, ReservationBook
from evnetd.charger.sessions import Session, SessionStore
from evnetd.charger.settings import (
    KEEP_AWAKE,
    SIGNATURES,
    USER_MAX_A,
    ChargerSettings,
    SettingsStore,
    apply_changes,
    defaults,
)
from evnetd.charger.tokens import TokenLearning, TokenList
from evnetd.hal import board
from evnetd.hal.backends import ChargerHardware, open_charger_hardware
from evnetd.hal.errors import HalError
from evnetd.iec61851.controller import SIMPLIFIED_MAX_A, Actions, ChargeController, ControllerConfig, Observation
from evnetd.iec61851.lock import LockCommand
from evnetd.iec61851.pilot import PilotDetector, PilotReading, PilotReport, PilotState
from evnetd.iec61851.proximity import Plug, Proximity, ProximityDecoder
from evnetd.iec61851.status import ConnectorStatus, ErrorCode, Fault
from evnetd.limits.arbitration import Arbiter, KeepAwake, LimitError, LimitSource, PulseTiming
from evnetd.runtime.config import Config
from evnetd.runtime.daemon import cancel_tasks, essential, wait_event
from evnetd.runtime.log import fields
from evnetd.runtime.settings import SettingError

log = logging.getLogger("evnet.charger")

STEP_ACTIVE_S = 0.005  # EV connected: two readings (the detector's rule) within 10 ms
STEP_IDLE_S = 0.1  # no EV: a plug-in is seen within 200 ms at a fraction of the CPU
CARD_POLL_S = 0.2
LOCK_PULSE_S = 0.6
METER_SILENT_S = 2.5  # two missed 1 Hz updates (its death is seen at once from the bus)
BEEP_S = 0.1
CONNECTED = (PilotState.B, PilotState.C, PilotState.D)
# OCPP 1.6 StopTransaction reasons a caller may give (the others are the charger's own:
# EVDisconnected, PowerLoss, UnlockCommand)
STOP_REASONS = ("Remote", "Local", "HardReset", "SoftReset", "Reboot", "EmergencyStop", "DeAuthorized", "Other")
EXTERNAL_SOURCES = (LimitSource.OCPP, LimitSource.ENERGY, LimitSource.SITE, LimitSource.REMOTE)


class ChargerService:
    name = "evnet-charger"

    def __init__(self, config: Config) -> None:
        self.config = config
        c = config.charger
        self.interface = ChargerInterface(self)
        self.controller = ChargeController(ControllerConfig(
            tethered=c.tethered, state_d_allowed=c.allow_state_d, simplified_limit=c.simplified_pilot_limit,
        ))  # fmt: skip
        self.detector = PilotDetector()
        self.proximity = ProximityDecoder(c.tethered_cable_a if c.tethered else None)
        self.arbiter = Arbiter(keep_awake=KEEP_AWAKE[c.keep_awake], pulse=PulseTiming(c.pulse_on_s, c.pulse_period_s))
        self.arbiter.set(LimitSource.INSTALLER, c.max_current_a)
        self.authorizer = Authorizer(c.auth_mode, c.local_tokens, self._ask_ocpp)
        self.brightness = Brightness[c.led_brightness.upper()]
        self.owner_settings: ChargerSettings = defaults(c)  # until start() reads the stored ones
        self.tokens = TokenList.from_uids(c.local_tokens)
        self.learning = TokenLearning()
        self.bus: MessageBus | None = None
        self.hw: ChargerHardware | None = None
        self.store: SessionStore | None = None
        self.settings: SettingsStore | None = None
        self.fault_log: FaultLog | None = None
        self._charger_faults: dict[str, tuple[str, str]] | None = None  # as last recorded; None: not yet
        self._faults_from = math.inf  # monotonic: when charger faults start to count (see _note_charger_faults)
        self.session: Session | None = None
        self._session_parent = ""  # the running session's parentIdTag (from its authorisation)
        self.authorised = False
        self.available = True
        self._recovering: Session | None = None
        self._meter: dict[str, Any] = {}
        self._meter_heard = -math.inf
        self._ocpp: dict[str, Any] | None = None
        self._ev_state: PilotState | None = None  # the last state the EV showed (not F)
        self.pending = PendingStart(c.connection_timeout_s)  # a card or remote start before the plug
        self.reservations = ReservationBook()
        self.rcd_gate = RcdGate()
        self._calls: set[asyncio.Task[None]] = set()  # bus calls in flight (kept referenced)
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
        self.owner_settings = self.settings.load_settings(self.owner_settings)
        self._apply_settings()
        stored_tokens = self.settings.get("tokens", "")
        if stored_tokens:
            self.tokens = TokenList.from_json(stored_tokens)
        self._use_tokens()
        self.fault_log = FaultLog(general.state_dir / "charger-faults.db")
        self._faults_from = time.monotonic() + METER_SILENT_S
        timeout = self.settings.get("connection_timeout_s", "")
        if timeout:
            self.pending.timeout_s = check_timeout(int(timeout))
        reservation = self.settings.get("reservation", "")
        if reservation:  # an expired one ends (and is signalled) at the first step
            self.reservations.current = Reservation.from_json(reservation)
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
        if self.bus:  # no method call may be answered once the stores below are closed
            self.bus.unexport(CHARGER.path)
        await cancel_tasks(self._tasks + list(self._calls))
        if self.hw:
            self.hw.close()  # contactor request off, PWM back to X1, ring off
        if self.store:
            if self.session:  # left open on purpose: the restart rule decides (§10.7)
                self.store.save_reading(self.session, self._register_wh() or self.session.last_wh)
            self.store.close()
        if self.settings:
            self.settings.close()
        if self.fault_log:
            self.fault_log.close()
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
            await wait_event(self._wake, delay)

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
        self._run_timers(now)
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
            meter_fault=self._meter_fault() or self._rcd_gate_fault(),
        )
        actions = self.controller.step(obs, now)
        self._carry_out(actions, obs)
        if now >= self._faults_from:
            self._note_charger_faults(actions, obs)
        self._actions = actions

    def _carry_out(self, actions: Actions, obs: Observation) -> None:
        assert self.hw is not None
        self.hw.contactor.set(actions.contactor)
        self.hw.pwm.set_duty(actions.duty)
        if actions.lock is not None:
            self._pulse_lock(actions.lock)
        if actions.drop_permit:
            self._request_permit_hold()
        status = connector_status(
            actions.status,
            waiting_for_plug=self.pending.auth is not None,
            reserved=self.reservations.current is not None and self.session is None,
        )
        link = self._ocpp
        online = link is None or bool(link.get("Connected", False)) or not link.get("Url", "")  # no CSMS set
        self.hw.led.show(led_for(status, online, self.brightness))
        self._publish_state(status, actions, obs)
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
    def _run_timers(self, now: float) -> None:
        """The waits that end by time: ConnectionTimeOut, the reservation's expiry, the
        RCD self-test's timeout."""
        expired = self.pending.expire(now)
        if expired is not None:
            log.info("authorisation of %s dropped: no EV plugged in within %g s (ConnectionTimeOut)",
                     expired.id_tag, self.pending.timeout_s)  # fmt: skip
        ended = self.reservations.expire(time.time())
        if ended is not None:
            self._reservation_ended(ended, EndReason.EXPIRED)
        self._on_rcd_gate(self.rcd_gate.poll(now))
        if self.learning.expire(now):
            log.info("learning a card ended: none was presented in time")
            self.interface.publish({"Learning": False})

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
            waiting = self.pending.take()
            if self.session is None and waiting is not None:
                self._start(waiting)
            elif self.session is None and (self.authorizer.plug_and_charge or self._offline_charge()):
                if self.reservations.current is None:
                    self._start(self.authorizer.free())
                else:  # a reservation keeps the connector for its tag, also from free charging
                    log.info("plug-in charge withheld: reserved (reservation %d)",
                             self.reservations.current.reservation_id)  # fmt: skip
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
        used = self.reservations.use(auth.id_tag, auth.parent_id_tag)
        self._session_parent = auth.parent_id_tag
        self.session = self.store.start(
            auth.id_tag, register if register is not None else 0.0, used.reservation_id if used else None
        )
        log.info("session %d started for %s (%s)%s", self.session.id, auth.id_tag, auth.reason,
                 f" under reservation {used.reservation_id}" if used else "",
                 extra=fields(SESSION_ID=self.session.id))  # fmt: skip
        self.interface.SessionStarted(self.session.id, auth.id_tag, self.session.start_wh)
        if used is not None:
            self._reservation_ended(used, EndReason.USED)
        if self.config.charger.rcd_selftest_before_session:
            self.authorised = False  # until the meter's test passed
            self.rcd_gate.request(str(self._meter.get("RcdSelfTest", "")), time.monotonic())
            self._spawn(self._ask_rcd_selftest())
        else:
            self.authorised = True
        self._wake.set()

    def _stop(self, reason: str) -> None:
        assert self.store is not None and self.session is not None
        closed = self.store.stop(self.session, self._register_wh(), reason)
        self.session = None
        self.authorised = False
        self.rcd_gate.reset()
        log.info("session %d stopped (%s), %.3f kWh", closed.id, reason, closed.energy_wh / 1000,
                 extra=fields(SESSION_ID=closed.id))  # fmt: skip
        self.interface.SessionStopped(closed.id, reason, closed.energy_wh)
        self._wake.set()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _ask_rcd_selftest(self) -> None:
        """Start the meter's RCD test; its result comes as RcdSelfTest changes."""
        assert self.bus is not None
        try:
            await call(self.bus, METER, "SelfTestRcd")
        except DBusError as exc:
            self._on_rcd_gate(self.rcd_gate.call_failed(exc.text))
            self._wake.set()

    def _on_rcd_gate(self, outcome: GateOutcome | None) -> None:
        if outcome is None or self.session is None:
            return
        session_id = self.session.id
        if outcome.passed:
            self.authorised = True
            log.info("RCD self-test passed: session %d may charge", session_id, extra=fields(SESSION_ID=session_id))
        else:
            log.error("RCD self-test before session %d failed (%s): the contactor stays open", session_id,
                      outcome.detail, extra=fields(SESSION_ID=session_id, FAULT="rcd-selftest"))  # fmt: skip
        self._wake.set()

    def _rcd_gate_fault(self) -> Fault | None:
        """A failed pre-session test faults the connector with the meter's error code (the
        meter maps its RCD faults to GroundFailure, also when it shows none yet)."""
        if self.rcd_gate.state is not GateState.FAILED:
            return None
        code = self._meter.get("ErrorCode", "NoError")
        return Fault(ErrorCode(code) if code != "NoError" else ErrorCode.GROUND_FAILURE, "rcd-selftest")

    def _reservation_ended(self, ended: Reservation, reason: EndReason) -> None:
        assert self.settings is not None
        self.settings.delete("reservation")
        log.info("reservation %d for %s ended: %s", ended.reservation_id, ended.id_tag, reason.value)
        self.interface.ReservationEnded(ended.reservation_id, reason.value)
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
                uid = card.hex().upper()
                if self.learning.active(time.monotonic()):
                    self._learn(uid)
                else:
                    await self._on_card(uid)
            self._card = card

    def _learn(self, uid: str) -> None:
        """LearnToken: the card joins the list (a known one keeps its label); no session."""
        if uid not in self.tokens.uids:
            try:
                self._change_tokens(self.tokens.add(uid, ""))
            except SettingError as exc:
                log.warning("card not learned: %s", exc)
                self._beep(3)
                return
        self.learning.stop()
        log.info("card %s learned", uid)
        self.interface.publish({"Learning": False})
        self.interface.TokenLearned(uid)
        self._beep(1)

    async def _on_card(self, uid: str) -> None:
        if self.session is not None:
            if uid == self.session.id_tag or await self._same_group(uid):
                self._beep(1)
                self._stop("Local")
            else:
                log.info("card %s ignored: a session for another card is running", uid)
                self._beep(3)
            return
        result = await self.authorizer.authorize(uid)
        log.info("card %s %s: %s", uid, "accepted" if result.accepted else "rejected", result.reason)
        held = self.reservations.current
        if result.accepted and not self.reservations.admits(result.id_tag, result.parent_id_tag):
            assert held is not None
            log.info("card %s refused: the connector is reserved (reservation %d)", uid, held.reservation_id)
            self._beep(3)
            return
        self._beep(1 if result.accepted else 3)
        if not result.accepted:
            return
        if self._ev_state in CONNECTED:
            self._start(result)
        else:
            self.pending.hold(result, time.monotonic())
            self._wake.set()

    async def _same_group(self, uid: str) -> bool:
        """Another card may stop the session if it shares the session's parent id tag (OCPP §3.10);
        it is only asked about when the session has one (DESIGN.md §10.10)."""
        if not self._session_parent:
            return False
        result = await self.authorizer.authorize(uid)
        return result.accepted and result.parent_id_tag == self._session_parent

    def _beep(self, count: int) -> None:
        assert self.hw is not None
        loop = asyncio.get_running_loop()
        for k in range(count):
            loop.call_later(2 * k * BEEP_S, self.hw.buzzer.set, True)
            loop.call_later((2 * k + 1) * BEEP_S, self.hw.buzzer.set, False)

    def _offline_charge(self) -> bool:
        """OCPP mode with no backend reachable: charge on plug-in when the settings allow it."""
        online = self._ocpp is not None and bool(self._ocpp.get("Connected", False))
        return self.authorizer.mode == "ocpp" and self.owner_settings.offline_charge and not online

    async def _ask_ocpp(self, tag: str) -> tuple[bool, str]:
        """``Ocpp1.Authorize(s) → (bs)``: accepted, parent id tag ("" if none). Asked whenever the
        OCPP service runs, linked or not: offline it applies OCPP's own offline rules (local list,
        cache, AllowOfflineTxForUnknownId); only without it does the charger's rule apply."""
        if self.bus is None or self._ocpp is None:
            raise OcppUnavailable("the OCPP service is not running")
        try:
            accepted, parent = await call(self.bus, OCPP, "Authorize", "s", [tag])
        except NotAvailable as exc:
            raise OcppUnavailable(str(exc)) from exc
        return bool(accepted), str(parent)

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
            self._faults_from = min(self._faults_from, self._meter_heard)
            if "ActiveFaults" in props:
                self._record_faults("meter", {name: (meter_error_code(name), "") for name in props["ActiveFaults"]})
            if "RcdSelfTest" in props:
                self._on_rcd_gate(self.rcd_gate.observe(str(props["RcdSelfTest"]), self._meter_heard))
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
        # the controller caps the duty itself from the step it sees the EV; this makes the
        # published offer (and the meter's over-current Imax) say the same from the next
        if self._actions is not None and self._actions.simplified:
            if LimitSource.VEHICLE not in {limit.source for limit in self._resolution.limits}:
                log.info("simplified-pilot EV (A → C without B): at most %g A", SIMPLIFIED_MAX_A)
            self.arbiter.set(LimitSource.VEHICLE, SIMPLIFIED_MAX_A)
        else:
            self.arbiter.clear(LimitSource.VEHICLE)
        resolution = self.arbiter.resolve(now)
        if resolution.keep_awake != self._resolution.keep_awake and self.arbiter.keep_awake is KeepAwake.PULSE:
            log.info("keep-awake pulse: %s", "6 A burst" if resolution.keep_awake else "paused until the next burst")
        self._resolution = resolution
        return resolution.offered_a

    def _publish_state(self, status: str, actions: Actions, obs: Observation) -> None:
        resolution = self._resolution
        session: dict[str, Variant] = {}
        if self.session is not None:
            s = self.session
            register = self._register_wh()
            energy = (register if register is not None else s.last_wh) - s.start_wh
            session = {
                "id": Variant("u", s.id), "id_tag": Variant("s", s.id_tag),
                "energy_wh": Variant("d", round(max(0.0, energy), 3)), "started_at": Variant("d", s.started_at),
                "start_wh": Variant("d", s.start_wh), "transaction_id": Variant("i", _or_none(s.transaction_id)),
                "reservation_id": Variant("i", _or_none(s.reservation_id)),
            }  # fmt: skip
        rating = obs.proximity.rating_a if obs.proximity.rating_a is not None else 0
        self.interface.publish({
            "Status": status, "ErrorCode": actions.error.code.value, "ErrorInfo": actions.error.info,
            "Pilot": obs.pilot.value, "CableRating": rating,
            "OfferedCurrent": math.nan if obs.offered_a is None else obs.offered_a,
            "SignalledCurrent": math.nan if actions.signalled_a is None else actions.signalled_a,
            "LimitSource": resolution.source.value,
            "Limits": {limit.source.value: limit.amps for limit in resolution.limits},
            "Duty": actions.duty, "Locked": obs.locked, "ContactorClosed": obs.contactor_closed,
            "Available": self.available, "Session": session, "Reservation": self._reservation_property(),
        })  # fmt: skip

    def _reservation_property(self) -> dict[str, Variant]:
        held = self.reservations.current
        if held is None:
            return {}
        return {
            "reservation_id": Variant("i", held.reservation_id), "id_tag": Variant("s", held.id_tag),
            "parent_id_tag": Variant("s", held.parent_id_tag), "expiry": Variant("d", held.expiry),
        }  # fmt: skip

    # --- operator methods (org.evnet.Charger1) --------------------------------------------
    def start_session(self, id_tag: str) -> None:
        if self.session is not None:
            raise InvalidState(f"session {self.session.id} is already running")
        if not self.available:
            raise InvalidState("the connector is inoperative")
        auth = self.authorizer.remote(id_tag)
        held = self.reservations.current
        if held is not None and not self.reservations.admits(auth.id_tag):
            raise InvalidState(f"id tag {auth.id_tag!r}: the connector is reserved for another tag "
                               f"(reservation {held.reservation_id})")  # fmt: skip
        if self._ev_state in CONNECTED:
            self._start(auth)
        else:
            self.pending.hold(auth, time.monotonic())
            self._wake.set()

    def stop_session(self, reason: str = "Remote") -> None:
        if reason not in STOP_REASONS:
            raise InvalidArgument(f"stop reason {reason!r}: must be one of {', '.join(STOP_REASONS)}")
        if self.session is None:
            if self.pending.take() is not None:
                self._wake.set()
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
        limit_source = _external_source(source)
        if not math.isfinite(amps) or amps < 0:
            raise InvalidArgument(f"limit {amps}: must be a finite number of amps ≥ 0")
        expires = time.monotonic() + expires_in_s if expires_in_s > 0 else None
        try:
            self.arbiter.set(limit_source, amps, expires)
        except LimitError as exc:
            raise InvalidArgument(str(exc)) from None
        self._wake.set()

    def clear_limit(self, source: str) -> None:
        """That source no longer limits (an OCPP schedule ended, energy management stopped)."""
        self.arbiter.clear(_external_source(source))
        self._wake.set()

    def unlock(self) -> None:
        if self.config.charger.tethered:
            raise InvalidState("a tethered cable has no lock")
        if self.session is not None:
            self._stop("UnlockCommand")
        self.controller.request_unlock()
        self._wake.set()

    def set_user_limit(self, amps: float) -> None:
        """The ``user_max_a`` setting; more than 32 A means none (32 A, the hardware's)."""
        top = float(USER_MAX_A[1])
        self.change_settings({"user_max_a": ("d", top if math.isfinite(amps) and amps > top else amps)})

    def change_settings(self, changes: dict[str, tuple[str, Any]]) -> None:
        """All or nothing: validated, stored in one transaction, then applied at once."""
        assert self.settings is not None
        with _refused():
            changed = apply_changes(self.owner_settings, changes)
        self.settings.save_settings(changed, set(changes))
        self.owner_settings = changed
        log.info("settings changed: %s", ", ".join(f"{name} = {getattr(changed, name)!r}" for name in changes))
        self._apply_settings()

    def _apply_settings(self) -> None:
        """Settings take effect now: limits and the LED at the next step, the auth mode with
        the next card or plug-in (a running session goes on)."""
        s = self.owner_settings
        if s.user_max_a >= USER_MAX_A[1]:
            self.arbiter.clear(LimitSource.USER)
        else:
            self.arbiter.set(LimitSource.USER, s.user_max_a)
        self.arbiter.keep_awake = KEEP_AWAKE[s.keep_awake]
        self.authorizer.mode = s.auth_mode
        self.brightness = Brightness[s.led_brightness.upper()]
        values = dataclasses.asdict(s)
        self.interface.publish({"Settings": {name: Variant(SIGNATURES[name], values[name]) for name in SIGNATURES}})
        self._wake.set()

    def add_token(self, uid: str, label: str) -> None:
        with _refused():
            self._change_tokens(self.tokens.add(uid, label))

    def remove_token(self, uid: str) -> None:
        with _refused():
            self._change_tokens(self.tokens.remove(uid))

    def _change_tokens(self, tokens: TokenList) -> None:
        assert self.settings is not None
        self.settings.set("tokens", tokens.to_json())
        self.tokens = tokens
        self._use_tokens()

    def _use_tokens(self) -> None:
        self.authorizer.local_tokens = self.tokens.uids
        self.interface.publish({"Tokens": [list(entry) for entry in self.tokens.entries]})

    def learn_token(self, timeout_s: float) -> None:
        with _refused():
            self.learning.start(time.monotonic(), timeout_s)
        learning = self.learning.until is not None
        if learning:
            log.info("learning the next card for %g s", timeout_s)
        else:
            log.info("learning a card stopped")
        self.interface.publish({"Learning": learning})
        self._wake.set()

    def faults(self, limit: int) -> list[dict[str, Any]]:
        assert self.fault_log is not None
        return [
            {
                "fault": Variant("s", r.fault),
                "error_code": Variant("s", r.error_code),
                "info": Variant("s", r.info),
                "raised_at": Variant("d", r.raised_at),
                "cleared_at": Variant("d", r.cleared_at or 0.0),
                "source": Variant("s", r.source),
            }
            for r in self.fault_log.recent(limit)
        ]

    def _note_charger_faults(self, actions: Actions, obs: Observation) -> None:
        """The charger's own fault for the history. The controller reports one fault, the
        first by its order; when that is the meter's (recorded from ``ActiveFaults``), the
        charger's are unknown and stay as they were rather than being taken for cleared.
        Called once the meter was heard or could have been: a meter that is still starting
        is no "meter silent" fault."""
        error = actions.error
        if actions.status is not ConnectorStatus.FAULTED:
            active: dict[str, tuple[str, str]] = {}
        elif error != obs.meter_fault:
            active = {error.info or error.code.value: (error.code.value, error.info)}
        else:
            return
        if active != self._charger_faults:
            self._charger_faults = active
            self._record_faults("charger", active)

    def _record_faults(self, source: str, active: Active) -> None:
        """Into the history; a history that cannot be written must not stop charge control."""
        assert self.fault_log is not None
        try:
            raised, cleared = self.fault_log.update(source, active, time.time())
        except sqlite3.Error as exc:
            log.error("fault history not written: %s", exc, extra=fields(FAULT="fault-history"))
            return
        if source == "charger":  # the meter journals its own
            for name in raised:
                log.error("fault %s (%s)", name, active[name][0], extra=fields(FAULT=name))
            for name in cleared:
                log.info("fault %s cleared", name, extra=fields(FAULT=name))

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
                "start_wh": Variant("d", s.start_wh), "last_wh": Variant("d", s.last_wh),
                "stopped_at": Variant("d", s.stopped_at if s.stopped_at is not None else math.nan),
                "stop_reason": Variant("s", s.stop_reason or ""),
                "transaction_id": Variant("i", _or_none(s.transaction_id)),
                "reservation_id": Variant("i", _or_none(s.reservation_id)),
            }
            for s in self.store.recent(limit)
        ]

    def set_transaction_id(self, session_id: int, transaction_id: int) -> None:
        assert self.store is not None
        found = self.store.get(session_id)
        if found is None:
            raise InvalidArgument(f"session {session_id}: no such session")
        updated = self.store.set_transaction_id(found, transaction_id)
        if self.session is not None and self.session.id == session_id:
            self.session = replace(self.session, transaction_id=updated.transaction_id)
        log.info("session %d: transaction id %d", session_id, transaction_id, extra=fields(SESSION_ID=session_id))
        self._wake.set()

    def reserve(self, reservation_id: int, id_tag: str, parent_id_tag: str, expiry_unix: float) -> str:
        assert self.settings is not None
        if not id_tag.strip():
            raise InvalidArgument("id tag: must not be empty")
        if not math.isfinite(expiry_unix):
            raise InvalidArgument(f"expiry {expiry_unix}: must be a finite UNIX time")
        connector = ConnectorState(
            faulted=self.interface.values["Status"] == "Faulted",
            available=self.available,
            occupied=self._ev_state in CONNECTED or self.session is not None or self.pending.auth is not None,
        )
        request = Reservation(reservation_id, id_tag, parent_id_tag, expiry_unix)
        answer = self.reservations.reserve(request, connector, time.time())
        log.info("reserve %d for %s until %.0f: %s", reservation_id, id_tag, expiry_unix, answer.value)
        held = self.reservations.current
        if held is not None and held.reservation_id == reservation_id:
            self.settings.set("reservation", held.to_json())
        self._wake.set()
        return answer.value

    def cancel_reservation(self, reservation_id: int) -> bool:
        cancelled = self.reservations.cancel(reservation_id)
        if cancelled is None:
            log.info("cancel reservation %d: no such reservation", reservation_id)
            return False
        self._reservation_ended(cancelled, EndReason.CANCELLED)
        return True

    def set_connection_timeout(self, seconds: int) -> None:
        assert self.settings is not None
        try:
            self.pending.timeout_s = check_timeout(seconds)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        self.settings.set("connection_timeout_s", str(seconds))
        self._wake.set()


@contextlib.contextmanager
def _refused() -> Iterator[None]:
    """A value that breaks a rule is the caller's error: InvalidArgument with the rule's text."""
    try:
        yield
    except SettingError as exc:
        raise InvalidArgument(str(exc)) from None


def _or_none(value: int | None) -> int:
    """OCPP ids on the bus: -1 stands for "none" (D-Bus has no null)."""
    return -1 if value is None else value


def _external_source(source: str) -> LimitSource:
    """The limit source a caller may set: ocpp, energy or remote; else InvalidArgument."""
    names = ", ".join(s.value for s in EXTERNAL_SOURCES)
    try:
        limit_source = LimitSource(source)
    except ValueError:
        raise InvalidArgument(f"limit source {source!r}: must be one of {names}") from None
    if limit_source not in EXTERNAL_SOURCES:
        raise InvalidArgument(f"limit source {source!r}: must be one of {names}")
    return limit_source


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("PERMIT hold request failed: %s", task.exception(), extra=fields(FAULT="hold"))
