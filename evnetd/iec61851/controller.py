"""The charge-control state machine of one connector (IEC 61851-1 Mode 3, basic charging).

Sans-I/O: the service feeds an ``Observation`` and the monotonic time to ``step`` and
carries out the returned ``Actions`` (duty, contactor request, lock pulse, PERMIT drop
request); ``next_deadline`` says when to step again if nothing new is observed. Sessions,
authorization and OCPP stay outside: they reach this core as the ``authorised`` flag and
the ``offered_a`` of the arbitration.

The rules, and the choices made where the reference leaves room:

* Offer (PWM) only when everything needed to close is already there: authorised,
  available, no fault, EV connected (state D only if configured), a cable rating, the plug
  locked (socketed), PERMIT high, at least 6 A. So when the EV answers with C, the
  contactor closes in the same step (as soon as the diode has been seen), well inside the
  3 s of Table A.6 — the only wait is the detector's two readings.
* Open in the same step (≤ 100 ms once the detector has confirmed) on C→B, C→A, E, an
  invalid pilot, any fault, PERMIT lost, the plug no longer locked, the PP line no longer
  showing the cable (its pin is the shortest: it breaks first when the plug is pulled).
* A pause, a stop, unavailability or an unlock command withdraw the PWM (X1) and leave the
  EV to open S2; if it stays in C (C1) the contactor is opened anyway after 6 s.
* Closings are at least 10 s apart. While the EV asks (C) inside that spacing the PWM is
  withheld, never offered without closing: PWM + C must mean "closing within 3 s".
* The signalled current changes at most once per 5 s; reductions (and stops) are applied
  at once but also start the 5 s, so a rise right after a cut still waits.
* A new fault drives state F for 300 ms (Table A.5, EVerest's default), then X1: in F the
  pilot cannot show the EV, in X1 we still see it leave.
* Wake-up (IEC 61851-1 A.5.3): an EV offered PWM that stays in B for 30 s without ever
  asking gets one sequence per offer: F for 4 s (ISO 15118-3 T_step_EF, as EVerest and
  Tinkerforge; Phoenix uses 3 s), X1 for 750 ms (EVerest: a clean B1 before B2), then PWM.
* Lock (socketed): locked while a session is authorised with the EV connected, and always
  while the contactor is requested or closed; unlocked on unplug, when the session ends,
  on command, after a fault once the contactor is open — except after a weld, when the
  plug stays as it is because the socket may be live. Five failed attempts:
  ConnectorLockFailure until unplug (a failed unlock: until the pin reads unlocked).
* Weld or failed close: PowerSwitchFailure, latched until an operator clears it and the
  contactor reads open with no load-side voltage; a weld also asks the meter to drop
  PERMIT.
* State D is refused unless configured: X1 and no contactor, status SuspendedEVSE with
  OtherError "ventilation" (not a fault: the EV may go back to B).
* Simplified pilot: an EV that goes from A straight to C (or D) without ever showing B
  uses the simplified control pilot (IEC 61851-1:2019 A.2.3, as EVerest detects it): it
  may ignore the duty and must itself keep to 10 A. When configured, until it is
  unplugged we signal at most 10 A, so the duty, the offered current and the meter's
  over-current Imax all say what that EV may draw. Off by default, as EVerest's option
  (``hack_simplified_mode_limit_10A``): the EV is the one bound to 10 A, and a B shorter
  than two pilot readings (200 ms with no EV, the idle step) is missed, which would cap a
  basic EV that asks at once — the simulated EV does exactly that. Only a plug-in seen
  from A counts: after a restart the first state may be C with the EV long connected.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from evnetd.iec61851.contactor import ContactorSupervisor, SwitchFailure
from evnetd.iec61851.duty import (
    DEFAULT_RESOLUTION,
    MIN_CURRENT_A,
    X1_DUTY,
    current_for_duty,
    duty_for_current,
)
from evnetd.iec61851.lock import LockCommand, LockSupervisor
from evnetd.iec61851.pilot import Diode, GeneratorMode, PilotState
from evnetd.iec61851.proximity import Plug, Proximity
from evnetd.iec61851.status import NO_FAULT, ConnectorStatus, ErrorCode, Fault

STATE_F_AFTER_FAULT_S = 0.3
C1_FORCED_OPEN_S = 6.0
DUTY_CHANGE_INTERVAL_S = 5.0
WAKE_UP_AFTER_S = 30.0
WAKE_UP_F_S = 4.0
WAKE_UP_X1_S = 0.75
F_DUTY = 0.0
SIMPLIFIED_MAX_A = 10.0

_CONNECTED = (PilotState.B, PilotState.C, PilotState.D)
VENTILATION_NOTICE = Fault(ErrorCode.OTHER_ERROR, "ventilation")
_LOCK_FAILED = Fault(ErrorCode.CONNECTOR_LOCK_FAILURE, "lock")
_UNLOCK_FAILED = Fault(ErrorCode.CONNECTOR_LOCK_FAILURE, "unlock")


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """The connector's fixed facts, from the configuration file."""

    tethered: bool = False  # no lock, PP not read (the rating comes in ``proximity``)
    state_d_allowed: bool = False  # the site ventilates: charge in D as in C
    wake_up: bool = True
    simplified_limit: bool = False  # cap simplified-pilot EVs (A → C without B) at 10 A
    pwm_resolution: float = DEFAULT_RESOLUTION


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything the controller looks at in one step."""

    pilot: PilotState  # confirmed state from PilotDetector
    diode: Diode  # confirmed diode check from PilotDetector
    proximity: Proximity  # from ProximityDecoder (tethered: the configured rating)
    permit: bool  # PERMIT line level (driven by the metering service)
    contactor_closed: bool  # mirror contact
    load_voltage: bool  # voltage after the contactor (metering ADC ch4), for weld detection
    locked: bool  # lock feedback (ignored when tethered)
    offered_a: float | None  # arbitration result; None = pause
    authorised: bool  # a session may draw energy
    available: bool  # operative (OCPP availability)
    meter_alive: bool  # the metering service was heard from within 1 s
    meter_fault: Fault | None  # the fault the metering service reports (it dropped PERMIT)


@dataclass(frozen=True, slots=True)
class Actions:
    """What to drive now, what to tell the world, and when to step again."""

    duty: float  # PWM duty fraction: 1.0 = X1, 0.0 = F
    contactor: bool  # contactor request level
    lock: LockCommand | None  # one motor pulse to give now, if any
    drop_permit: bool  # ask the metering service to hold PERMIT low (welded contactor)
    status: ConnectorStatus
    error: Fault  # error code (+ info); NO_FAULT when none
    signalled_a: float | None  # the current the duty advertises, None when none
    next_deadline: float | None  # monotonic time of the next timer, None when none
    simplified: bool = False  # this plug-in is a simplified-pilot EV: at most 10 A is signalled


class _PlugIn(enum.Enum):
    """What we know of how the connected EV arrived (for the simplified-pilot rule)."""

    UNKNOWN = "unknown"  # since start-up, no A seen yet
    UNPLUGGED = "unplugged"  # A: the next state tells
    BASIC = "basic"  # B was seen
    SIMPLIFIED = "simplified"  # C or D straight after A


class _Cause(enum.IntEnum):
    """Fault sources, in the order their error code is reported (first wins)."""

    SWITCH = 0
    METER = 1
    METER_SILENT = 2
    LOCK = 3
    PILOT = 4
    PROXIMITY = 5


class ChargeController:
    """One connector's pilot, contactor and lock logic (see the module docstring)."""

    def __init__(self, config: ControllerConfig) -> None:
        self._config = config
        self._contactor = ContactorSupervisor()
        self._lock = LockSupervisor()
        self._ev = PilotState.A  # last EV state seen (F is ours: it hides the EV)
        self._plug_in: _PlugIn = _PlugIn.UNKNOWN
        self._latched: dict[_Cause, Fault] = {}
        self._switch_failure: SwitchFailure | None = None
        self._fault_causes: frozenset[_Cause] = frozenset()
        self._f_until = 0.0
        self._duty = X1_DUTY  # the offer: PWM or X1, after the change limiter
        self._target_duty = X1_DUTY
        self._duty_changed_at: float | None = None
        self._offer_since: float | None = None
        self._ev_asked = False  # the EV went to C/D during this offer
        self._wake_up_done = False
        self._wake_up_at: float | None = None
        self._c1_since: float | None = None
        self._session_seen = False
        self._was_authorised = False
        self._unlock_requested = False
        self._unlock_held = False
        self._clear_requested = False

    # --- commands (take effect at the next step) ---------------------------------------
    def request_unlock(self) -> None:
        """Operator/app unlock: stop offering, open, unlock; held until unplug or a new
        authorisation. Ignored when tethered (there is no lock)."""
        self._unlock_requested = not self._config.tethered

    def clear_faults(self) -> None:
        """Operator reset of PowerSwitchFailure; refused (kept) while its cause is there."""
        self._clear_requested = True

    # --- the step -----------------------------------------------------------------------
    def step(self, obs: Observation, now: float) -> Actions:
        socketed = not self._config.tethered
        if obs.pilot is not PilotState.F:
            self._ev = obs.pilot
        self._follow_plug_in()
        self._take_commands(obs)
        if self._ev is PilotState.A:
            self._unplugged()
        if obs.authorised and self._ev in _CONNECTED:
            self._session_seen = True

        retry = self._lock.poll(obs.locked, now) if socketed else None
        faults = self._update_faults(obs, now)
        if set(faults) - self._fault_causes:
            self._f_until = now + STATE_F_AFTER_FAULT_S
        self._fault_causes = frozenset(faults)

        self._target_duty = self._target(obs, bool(faults), now)
        self._apply_duty_limit(now)
        duty = self._output_duty(now)
        close = self._contactor_wanted(obs, bool(faults), duty, now)
        self._contactor.command(close, now)
        lock = self._lock_command(obs, bool(faults), now) if socketed else None

        status, error = self._status(obs, faults, duty)
        return Actions(
            duty=duty,
            contactor=close,
            lock=lock or retry,
            drop_permit=self._switch_failure is SwitchFailure.WELD,
            status=status,
            error=error,
            signalled_a=current_for_duty(duty),
            next_deadline=self._next_deadline(now),
            simplified=self._simplified,
        )

    def _follow_plug_in(self) -> None:
        """How this EV arrived: through B (basic pilot) or from A straight to C/D."""
        if self._ev is PilotState.A:
            self._plug_in = _PlugIn.UNPLUGGED
        elif self._ev is PilotState.B and self._plug_in is not _PlugIn.SIMPLIFIED:
            self._plug_in = _PlugIn.BASIC
        elif self._ev in (PilotState.C, PilotState.D) and self._plug_in is _PlugIn.UNPLUGGED:
            self._plug_in = _PlugIn.SIMPLIFIED

    @property
    def _simplified(self) -> bool:
        return self._config.simplified_limit and self._plug_in is _PlugIn.SIMPLIFIED

    def _take_commands(self, obs: Observation) -> None:
        if obs.authorised and not self._was_authorised:
            self._unlock_held = False  # a new session may lock again
        self._was_authorised = obs.authorised
        if self._unlock_requested:
            self._unlock_requested, self._unlock_held = False, True

    def _unplugged(self) -> None:
        """State A: the EV is gone, and with it what belonged to its plug-in."""
        self._latched.pop(_Cause.PILOT, None)
        if self._latched.get(_Cause.LOCK) == _LOCK_FAILED:
            del self._latched[_Cause.LOCK]
        self._unlock_held = False
        self._session_seen = False
        if self._duty == X1_DUTY:
            self._duty_changed_at = None  # a new EV gets its first offer at once

    # --- faults -------------------------------------------------------------------------
    def _update_faults(self, obs: Observation, now: float) -> dict[_Cause, Fault]:
        failure = self._contactor.check(obs.permit, obs.contactor_closed, obs.load_voltage, now)
        if failure is not None and _Cause.SWITCH not in self._latched:
            self._latched[_Cause.SWITCH] = Fault(ErrorCode.POWER_SWITCH_FAILURE, failure.value)
            self._switch_failure = failure
        if self._clear_requested:
            self._clear_requested = False
            cause_gone = failure is None and not obs.contactor_closed and not obs.load_voltage
            if _Cause.SWITCH in self._latched and cause_gone:
                del self._latched[_Cause.SWITCH]
                self._switch_failure = None

        if _Cause.PILOT not in self._latched:
            if self._ev is PilotState.E:
                self._latched[_Cause.PILOT] = Fault(ErrorCode.EV_COMMUNICATION_ERROR, "cp-short")
            elif self._ev is PilotState.INVALID:
                self._latched[_Cause.PILOT] = Fault(ErrorCode.EV_COMMUNICATION_ERROR, "pilot")
            elif obs.diode is Diode.MISSING:
                self._latched[_Cause.PILOT] = Fault(ErrorCode.EV_COMMUNICATION_ERROR, "diode")

        if self._latched.get(_Cause.LOCK) == _UNLOCK_FAILED and not obs.locked:
            del self._latched[_Cause.LOCK]
        if self._lock.failed and _Cause.LOCK not in self._latched:
            self._latched[_Cause.LOCK] = _LOCK_FAILED if self._lock.target else _UNLOCK_FAILED

        faults = dict(self._latched)
        if obs.meter_fault is not None:
            faults[_Cause.METER] = obs.meter_fault
        if not obs.meter_alive:
            faults[_Cause.METER_SILENT] = Fault(ErrorCode.INTERNAL_ERROR, "meter silent")
        if not self._config.tethered and obs.proximity.plug is Plug.INVALID:
            faults[_Cause.PROXIMITY] = Fault(ErrorCode.OTHER_ERROR, "proximity")
        return faults

    # --- the offer (duty) ---------------------------------------------------------------
    def _ev_asks(self) -> bool:
        return self._ev is PilotState.C or (self._ev is PilotState.D and self._config.state_d_allowed)

    def _target(self, obs: Observation, faulted: bool, now: float) -> float:
        """The duty to offer if no rate limit applied (X1 when nothing may be offered)."""
        offered, rating = obs.offered_a, obs.proximity.rating_a
        if offered is None or rating is None or not self._may_offer(obs, faulted):
            return X1_DUTY
        amps = min(offered, float(rating))
        if self._simplified:
            amps = min(amps, SIMPLIFIED_MAX_A)
        if amps < MIN_CURRENT_A:
            return X1_DUTY
        spacing = not self._contactor.requested and not self._contactor.may_close(now)
        if spacing and self._ev_asks():
            return X1_DUTY  # do not show PWM to an EV in C that we may not serve yet
        return duty_for_current(amps, self._config.pwm_resolution)

    def _may_offer(self, obs: Observation, faulted: bool) -> bool:
        return (
            (self._ev is PilotState.B or self._ev_asks())
            and not faulted
            and obs.available
            and obs.authorised
            and not self._unlock_held
            and obs.permit
            and (self._config.tethered or obs.locked)
        )

    def _apply_duty_limit(self, now: float) -> None:
        """Move the offer toward the target: cuts at once, rises once per 5 s."""
        if self._target_duty == self._duty:
            return
        rising = _amps(self._target_duty) > _amps(self._duty)
        last = self._duty_changed_at
        if rising and last is not None and now < last + DUTY_CHANGE_INTERVAL_S:
            return
        was_offering = self._duty != X1_DUTY
        self._duty, self._duty_changed_at = self._target_duty, now
        offering = self._duty != X1_DUTY
        if offering and not was_offering:
            self._offer_since, self._ev_asked, self._wake_up_done = now, False, False
        elif not offering:
            self._offer_since, self._wake_up_at = None, None

    def _output_duty(self, now: float) -> float:
        """The offer, overridden by F after a fault and by the wake-up sequence."""
        if self._ev_asks():
            self._ev_asked, self._wake_up_at = True, None
        due = self._wake_up_due_at()
        if due is not None and now >= due:
            self._wake_up_at, self._wake_up_done = now, True
        if now < self._f_until:
            return F_DUTY
        if self._wake_up_at is not None:
            if now < self._wake_up_at + WAKE_UP_F_S:
                return F_DUTY
            if now < self._wake_up_at + WAKE_UP_F_S + WAKE_UP_X1_S:
                return X1_DUTY
            self._wake_up_at = None
        return self._duty

    def _wake_up_due_at(self) -> float | None:
        """When the wake-up sequence starts, if this offer still needs one.

        An offer that has never seen C/D is one made to an EV in B all along: any other
        state withdraws the offer (A, E, refused D) or marks it asked (C, allowed D).
        """
        armed = self._config.wake_up and self._wake_up_at is None and not self._ev_asked and not self._wake_up_done
        if not armed or self._offer_since is None:
            return None
        return self._offer_since + WAKE_UP_AFTER_S

    # --- contactor and lock -------------------------------------------------------------
    def _contactor_wanted(self, obs: Observation, faulted: bool, duty: float, now: float) -> bool:
        plug_held = self._config.tethered or obs.locked
        cable = obs.proximity.plug is Plug.PRESENT
        if faulted or not self._ev_asks() or not obs.permit or not plug_held or not cable:
            self._c1_since = None
            return False  # open in this very step
        pwm = GeneratorMode.of(duty) is GeneratorMode.PWM
        if self._contactor.requested:
            if pwm:
                self._c1_since = None
                return True
            # C1: PWM withdrawn and the EV still asks; it had its chance to open S2.
            if self._c1_since is None:
                self._c1_since = now
            if now >= self._c1_since + C1_FORCED_OPEN_S:
                self._c1_since = None
                return False
            return True
        # PWM on already means authorised, available, PERMIT, locked, ≥ 6 A and the closing
        # spacing kept: the offer is withdrawn (X1) in the same step any of them goes.
        return pwm and obs.diode is Diode.PRESENT

    def _lock_command(self, obs: Observation, faulted: bool, now: float) -> LockCommand | None:
        if self._switch_failure is SwitchFailure.WELD:
            want = obs.locked  # the socket may be live: leave the plug as it is
        elif self._contactor.requested or obs.contactor_closed:
            want = True
        elif faulted:
            want = False
        else:
            want = self._ev in _CONNECTED and obs.authorised and not self._unlock_held
        return self._lock.drive(want, obs.locked, now)

    # --- status and timers --------------------------------------------------------------
    def _status(self, obs: Observation, faults: dict[_Cause, Fault], duty: float) -> tuple[ConnectorStatus, Fault]:
        if faults:
            return ConnectorStatus.FAULTED, faults[min(faults)]
        if not obs.available:
            return ConnectorStatus.UNAVAILABLE, NO_FAULT
        if self._ev is PilotState.A:
            return ConnectorStatus.AVAILABLE, NO_FAULT
        notice = VENTILATION_NOTICE if self._ev is PilotState.D and not self._ev_asks() else NO_FAULT
        if not obs.authorised or self._unlock_held:
            ended = ConnectorStatus.FINISHING if self._session_seen else ConnectorStatus.PREPARING
            return ended, notice
        # Charging from the step the closing is requested: the mirror follows within 250 ms
        # or PowerSwitchFailure replaces this status anyway.
        if self._contactor.requested and GeneratorMode.of(duty) is GeneratorMode.PWM:
            return ConnectorStatus.CHARGING, notice
        if self._duty != X1_DUTY and self._ev is PilotState.B:
            return ConnectorStatus.SUSPENDED_EV, notice
        return ConnectorStatus.SUSPENDED_EVSE, notice

    def _next_deadline(self, now: float) -> float | None:
        times = [self._f_until, self._contactor.deadline(), self._lock.deadline]
        if _amps(self._target_duty) > _amps(self._duty) and self._duty_changed_at is not None:
            times.append(self._duty_changed_at + DUTY_CHANGE_INTERVAL_S)
        if self._wake_up_at is not None:
            times += [self._wake_up_at + WAKE_UP_F_S, self._wake_up_at + WAKE_UP_F_S + WAKE_UP_X1_S]
        times.append(self._wake_up_due_at())
        if self._c1_since is not None:
            times.append(self._c1_since + C1_FORCED_OPEN_S)
        if self._ev_asks() and not self._contactor.requested:
            times.append(self._contactor.close_allowed_at())
        future = [t for t in times if t is not None and t > now]
        return min(future) if future else None


def _amps(duty: float) -> float:
    """The current a duty advertises, 0 for X1/F: the limiter compares offers by it."""
    return current_for_duty(duty) or 0.0
