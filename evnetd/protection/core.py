"""The protection core: DESIGN.md §4's trip rules and their timers, as a pure object.

The metering/protection service feeds it what it observes (cycle measurements, the RCD
and tamper inputs, the temperature, the plug, the current offered to the EV) together
with the monotonic time, and obeys the Decision it returns: drive PERMIT and the RCD test
output, publish the events, and call :meth:`ProtectionCore.poll` again by
``next_deadline``. The core never reads a clock and never waits for anyone: every rule
that drops PERMIT is decided here, inside the call that brought the observation.

Every entry point runs the same three steps: advance the timers to ``now`` with the
inputs as they were (so a late call still sees a timeout that expired before it), apply
the new observation, then settle recoveries and build the decision.

Measurement rules (voltage, current, N-PE) time their confirm and recovery periods on
the measurement timeline (window start to window end), so processing latency neither
shortens nor stretches them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from evnetd.metering.measurement import CycleMeasurement
from evnetd.protection.config import DEFAULT_PROTECTION_CONFIG, ProtectionConfig
from evnetd.protection.faults import PRIORITY, EventKind, Fault, ProtectionEvent
from evnetd.protection.rcd_selftest import RcdSelfTest, SelfTestOutcome, SelfTestStatus
from evnetd.protection.thermal import derating_limit_a
from evnetd.timing import reached


@dataclass(frozen=True, slots=True)
class Decision:
    """What the service must do now."""

    permit: bool
    """Level of the PERMIT output: high only with no fault, start-up checks done, and no
    RCD self-test running."""
    faults: frozenset[Fault]
    """Active faults (never DERATING)."""
    latched: frozenset[Fault]
    """Active faults that a restart must not clear: persist them and hand them back to
    the constructor (tamper, RCD, a failed RCD self-test, the 4th over-current)."""
    events: tuple[ProtectionEvent, ...]
    """Raised/cleared since the previous decision, in order."""
    derating_limit_a: float | None
    """Thermal current limit for the arbitration; None when not derating."""
    rcd_test_output: bool
    """Level of the RCD module's test input."""
    rcd_selftest: SelfTestStatus
    self_checks_ok: bool
    """Start-up checks done: a valid mains cycle seen and an RCD self-test passed."""
    next_deadline: float | None
    """Call ``poll`` at this monotonic time at the latest (None: only on new input)."""

    @property
    def error_code(self) -> str:
        """One OCPP ChargePointErrorCode for a status field: the highest-priority active
        fault's, HighTemperature while only derating, else NoError."""
        for fault in PRIORITY:
            if fault in self.faults:
                return fault.error_code
        return "HighTemperature" if self.derating_limit_a is not None else "NoError"


@dataclass(frozen=True, slots=True)
class ClearResult:
    """Outcome of an operator's ClearFaults."""

    cleared: frozenset[Fault]
    refused: Mapping[Fault, str]
    """Each active fault that stays, with the reason in words."""
    decision: Decision


class _Run:
    """Since when a condition has held without a break, on the measurement timeline."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        self.since: float | None = None

    def update(self, holds: bool, start: float) -> None:
        if not holds:
            self.since = None
        elif self.since is None:
            self.since = start

    def held(self, end: float, period: float) -> bool:
        """Whether the condition has held for ``period`` up to ``end``."""
        return self.since is not None and reached(end, self.since, period)


LATCHING = frozenset({Fault.TAMPER, Fault.RCD, Fault.RCD_SELFTEST, Fault.OVERCURRENT})
"""Faults that can be latched: cleared by an operator, an unplug or a self-test, not time."""


class ProtectionCore:
    def __init__(
        self,
        config: ProtectionConfig = DEFAULT_PROTECTION_CONFIG,
        *,
        now: float,
        latched: Iterable[Fault] = (),
    ) -> None:
        """Start with PERMIT low and the start-up RCD self-test requested.

        ``latched`` restores the previous run's ``Decision.latched``: a restart must not
        be a way round "only an operator clears a tamper fault" or "unplug to clear".
        The first decision reports them as raised again.
        """
        self._cfg = config
        self._started = now
        self._active: dict[Fault, float] = {}  # fault → time raised
        self._events: list[ProtectionEvent] = []
        self._voltage_seen = False
        self._selftest = RcdSelfTest(config)
        self._selftest.request()
        self._selftest_passed_at: float | None = None
        self._rcd_input: bool | None = None
        self._rcd_unplugged = False
        self._tamper_input: bool | None = None
        self._plug: bool | None = None
        self._imax = config.hardware_max_a
        self._imax_offered = False
        self._grace_a = 0.0
        self._grace_until = -math.inf
        self._overvoltage = _Run()
        self._undervoltage = _Run()
        self._voltage_normal = _Run()
        self._overcurrent = _Run()
        self._oc_trips = 0
        self._oc_latched = False
        self._last_irms = 0.0
        self._pen = _Run()
        self._pen_low = _Run()
        self._temperature: float | None = None
        self._derating = False
        self._last_sample: float | None = None
        self._flowing_since: float | None = None
        for fault in latched:
            if fault not in LATCHING:
                raise ValueError(f"{fault.value} is not a latching fault")
            if fault is Fault.OVERCURRENT:
                self._oc_trips = config.overcurrent_auto_recoveries + 1
                self._oc_latched = True
            self._raise(fault, now, None, f"{fault.value} fault restored from before restart")

    # ----- observations -------------------------------------------------------------

    def observe_metering(
        self, cycles: Iterable[CycleMeasurement], last_sample_t: float, now: float
    ) -> Decision:
        """New windows from the meter and the time of the newest ADC sample."""
        self._tick(now)
        for measurement in cycles:
            self._on_cycle(measurement, now)
        if self._last_sample is None or last_sample_t > self._last_sample:
            self._last_sample = last_sample_t
        if Fault.ADC_SILENT in self._active and self._flowing_since is None:
            self._flowing_since = last_sample_t
        return self._settle(now)

    def observe_half_cycle(self, vrms: float, npe_vrms: float, now: float) -> Decision:
        """The line and N-PE RMS over the newest half cycle, at every ADC block.

        Only the instant rules (confirm time 0) act on it: over-voltage and PEN then trip
        without waiting for the cycle window to close. Everything else, recovery included,
        stays on cycle windows.
        """
        self._tick(now)
        cfg = self._cfg
        if cfg.voltage_confirm_s == 0.0 and vrms > cfg.overvoltage_v:
            self._voltage_normal.since = None  # a cycle that began before the jump must not clear it
            self._raise(
                Fault.OVERVOLTAGE,
                now,
                vrms,
                f"over-voltage: {vrms:.1f} V (half cycle) above {cfg.overvoltage_v:.0f} V;"
                " PERMIT dropped",
            )
        if cfg.pen_confirm_s == 0.0 and npe_vrms > cfg.pen_trip_v:
            self._pen_low.since = None
            self._raise(
                Fault.PEN,
                now,
                npe_vrms,
                f"PEN fault: N-PE {npe_vrms:.1f} V (half cycle) above {cfg.pen_trip_v:.0f} V;"
                " PERMIT dropped",
            )
        return self._settle(now)

    def observe_rcd(self, active: bool, now: float) -> Decision:
        """Level of the RCD module's fault input (True: residual current, or a test)."""
        self._tick(now)
        self._rcd_input = active
        return self._settle(now)

    def observe_tamper(self, active: bool, now: float) -> Decision:
        """Level of the tamper switch (True: enclosure open)."""
        self._tick(now)
        self._tamper_input = active
        if active:
            self._raise(
                Fault.TAMPER,
                now,
                None,
                "tamper switch open: PERMIT dropped until an operator clears the fault",
            )
        return self._settle(now)

    def observe_temperature(self, celsius: float, now: float) -> Decision:
        """Relay/PCB temperature in °C."""
        if not math.isfinite(celsius):
            raise ValueError(f"temperature must be a finite number: {celsius}")
        self._tick(now)
        cfg = self._cfg
        self._temperature = celsius
        if celsius >= cfg.overtemp_trip_c:
            self._raise(
                Fault.OVERTEMP,
                now,
                celsius,
                f"over-temperature: {celsius:.1f} °C, trip at {cfg.overtemp_trip_c:.0f} °C;"
                " PERMIT dropped",
            )
        elif celsius < cfg.overtemp_recovery_c:
            self._clear(
                Fault.OVERTEMP,
                now,
                celsius,
                f"over-temperature cleared: {celsius:.1f} °C,"
                f" below {cfg.overtemp_recovery_c:.0f} °C",
            )
        if not self._derating and celsius >= cfg.derate_start_c:
            self._derating = True
            limit = derating_limit_a(celsius, cfg)
            self._emit(
                EventKind.RAISED,
                Fault.DERATING,
                now,
                celsius,
                f"high temperature {celsius:.1f} °C: offered current derated to {limit:.1f} A",
            )
        elif self._derating and celsius < cfg.derate_start_c - cfg.derate_exit_hysteresis_c:
            self._derating = False
            self._emit(
                EventKind.CLEARED,
                Fault.DERATING,
                now,
                celsius,
                f"temperature {celsius:.1f} °C: derating ended",
            )
        return self._settle(now)

    def observe_plug(self, present: bool, now: float) -> Decision:
        """Whether an EV is connected (plug in the socket, or the tethered cable in an EV).

        A session runs from plug-in to unplug: unplugging resets the over-current count,
        releases its latch, and is half of what RCD recovery needs.
        """
        self._tick(now)
        was = self._plug
        self._plug = present
        if present != was:
            self._oc_trips = 0
        if not present:
            if self._oc_latched:
                self._oc_latched = False
                self._clear(
                    Fault.OVERCURRENT, now, self._last_irms, "over-current latch: EV unplugged"
                )
            if Fault.RCD in self._active:
                self._rcd_unplugged = True
                if not self._rcd_tested_since_trip():
                    self._selftest.request()
            if Fault.RCD_SELFTEST in self._active:
                self._selftest.request()
        return self._settle(now)

    def set_offered_current(self, imax_a: float | None, now: float) -> Decision:
        """The current now offered to the EV (None: the hardware maximum, 32 A).

        After a decrease the previous value still counts for ``offered_decrease_grace_s``
        while the EV follows; the first offer after start-up is not a decrease.
        """
        if imax_a is not None and not (math.isfinite(imax_a) and imax_a >= 0.0):
            raise ValueError(f"offered current must be a finite non-negative number: {imax_a}")
        self._tick(now)
        cfg = self._cfg
        new = cfg.hardware_max_a if imax_a is None else min(imax_a, cfg.hardware_max_a)
        effective = self._effective_imax(now)
        if self._imax_offered and new < effective:
            self._grace_a = effective
            self._grace_until = now + cfg.offered_decrease_grace_s
        self._imax = new
        self._imax_offered = True
        return self._settle(now)

    def request_rcd_selftest(self, now: float) -> Decision:
        """Run an RCD self-test (before a session); PERMIT is low while it runs."""
        self._tick(now)
        self._selftest.request()
        return self._settle(now)

    def poll(self, now: float) -> Decision:
        """Nothing new observed: let the timers run."""
        self._tick(now)
        return self._settle(now)

    def clear_faults(self, now: float) -> ClearResult:
        """An operator's ClearFaults: only the tamper fault is cleared this way, and only
        once the switch is closed; every other fault recovers by its own rule."""
        self._tick(now)
        cfg = self._cfg
        cleared: set[Fault] = set()
        refused: dict[Fault, str] = {}
        for fault in list(self._active):
            if fault is Fault.TAMPER and self._tamper_input is False:
                self._clear(fault, now, None, "tamper fault cleared by an operator")
                cleared.add(fault)
            elif fault is Fault.TAMPER:
                refused[fault] = (
                    "cause present: the tamper switch is still open"
                    if self._tamper_input
                    else "the tamper switch has not been read yet"
                )
            elif fault is Fault.RCD:
                refused[fault] = "clears only after unplug and a passing RCD self-test"
            elif fault is Fault.RCD_SELFTEST:
                refused[fault] = "clears only when an RCD self-test passes"
            elif fault is Fault.OVERCURRENT and self._oc_latched:
                refused[fault] = (
                    f"latched after {self._oc_trips} trips this session: clears on unplug"
                )
            elif fault is Fault.OVERCURRENT:
                refused[fault] = (
                    f"recovers by itself {cfg.overcurrent_recovery_s:.0f} s after the trip"
                )
            else:
                refused[fault] = "recovers by itself once the cause is gone for long enough"
        return ClearResult(frozenset(cleared), refused, self._settle(now))

    # ----- rules -----------------------------------------------------------------------

    def _on_cycle(self, m: CycleMeasurement, now: float) -> None:
        cfg = self._cfg
        start = m.t_end - m.duration
        end = m.t_end

        self._overvoltage.update(m.vrms > cfg.overvoltage_v, start)
        self._undervoltage.update(m.vrms < cfg.undervoltage_v, start)
        if self._overvoltage.held(end, cfg.voltage_confirm_s):
            self._raise(
                Fault.OVERVOLTAGE,
                now,
                m.vrms,
                f"over-voltage: {m.vrms:.1f} V above {cfg.overvoltage_v:.0f} V; PERMIT dropped",
            )
        if self._undervoltage.held(end, cfg.voltage_confirm_s):
            self._raise(
                Fault.UNDERVOLTAGE,
                now,
                m.vrms,
                f"under-voltage: {m.vrms:.1f} V below {cfg.undervoltage_v:.0f} V;"
                " PERMIT dropped",
            )
        low, high = cfg.voltage_recovery_low_v, cfg.voltage_recovery_high_v
        self._voltage_normal.update(low <= m.vrms <= high, start)
        if self._voltage_normal.held(end, cfg.voltage_recovery_s):
            for fault, name in ((Fault.OVERVOLTAGE, "over"), (Fault.UNDERVOLTAGE, "under")):
                self._clear(
                    fault,
                    now,
                    m.vrms,
                    f"{name}-voltage cleared: {m.vrms:.1f} V, within {low:.0f}–{high:.0f} V"
                    f" for {cfg.voltage_recovery_s:.0f} s",
                )
        if (
            not self._voltage_seen
            and m.frequency_hz is not None
            and cfg.undervoltage_v <= m.vrms <= cfg.overvoltage_v
        ):
            self._voltage_seen = True

        threshold = self._overcurrent_threshold(end)
        self._last_irms = m.irms
        self._overcurrent.update(m.irms > threshold, start)
        if (
            Fault.OVERCURRENT not in self._active
            and self._overcurrent.held(end, cfg.overcurrent_confirm_s)
        ):
            self._oc_trips += 1
            self._oc_latched = self._oc_trips > cfg.overcurrent_auto_recoveries
            then = (
                "latched until unplug"
                if self._oc_latched
                else f"retry in {cfg.overcurrent_recovery_s:.0f} s"
            )
            self._raise(
                Fault.OVERCURRENT,
                now,
                m.irms,
                f"over-current: {m.irms:.1f} A above {threshold:.1f} A"
                f" for {cfg.overcurrent_confirm_s:g} s; trip {self._oc_trips} this session,"
                f" PERMIT dropped, {then}",
            )
            self._overcurrent.since = None

        self._pen.update(m.npe_vrms > cfg.pen_trip_v, start)
        if self._pen.held(end, cfg.pen_confirm_s):
            self._raise(
                Fault.PEN,
                now,
                m.npe_vrms,
                f"PEN fault: N-PE {m.npe_vrms:.1f} V above {cfg.pen_trip_v:.0f} V;"
                " PERMIT dropped",
            )
        self._pen_low.update(m.npe_vrms < cfg.pen_recovery_v, start)
        if self._pen_low.held(end, cfg.pen_recovery_s):
            self._clear(
                Fault.PEN,
                now,
                m.npe_vrms,
                f"PEN fault cleared: N-PE {m.npe_vrms:.1f} V, below {cfg.pen_recovery_v:.0f} V"
                f" for {cfg.pen_recovery_s:.0f} s",
            )

    def _effective_imax(self, t: float) -> float:
        return max(self._imax, self._grace_a) if t < self._grace_until else self._imax

    def _overcurrent_threshold(self, t: float) -> float:
        cfg = self._cfg
        return cfg.overcurrent_factor * max(self._effective_imax(t), cfg.overcurrent_min_imax_a)

    def _tick(self, now: float) -> None:
        """Timers that expire with the inputs as they were before this call."""
        cfg = self._cfg
        if self._last_sample is None:
            silent_for = now - self._started
            silent = reached(now, self._started, cfg.adc_startup_grace_s)
        else:
            silent_for = now - self._last_sample
            silent = reached(now, self._last_sample, cfg.adc_silent_s)
        if silent:
            self._flowing_since = None
            self._raise(
                Fault.ADC_SILENT,
                now,
                silent_for,
                f"metering ADC silent for {silent_for * 1000:.0f} ms; PERMIT dropped",
            )
        self._step_selftest(now)

    def _step_selftest(self, now: float) -> None:
        outcome: SelfTestOutcome | None = self._selftest.step(now, self._rcd_input)
        if outcome is None:
            return
        if outcome.passed:
            self._selftest_passed_at = now
            self._clear(Fault.RCD_SELFTEST, now, None, "RCD self-test passed")
        else:
            self._raise(
                Fault.RCD_SELFTEST,
                now,
                None,
                f"RCD self-test failed: {outcome.detail}; PERMIT stays low",
            )

    def _settle(self, now: float) -> Decision:
        """Apply what the new observation implies, then decide."""
        cfg = self._cfg
        self._step_selftest(now)
        if self._rcd_input and not self._selftest.running and Fault.RCD not in self._active:
            self._raise(
                Fault.RCD,
                now,
                None,
                "RCD module reports residual current: PERMIT dropped,"
                " latched until unplug and a passing RCD self-test",
            )
            self._rcd_unplugged = self._plug is False
            self._selftest.request()
            self._step_selftest(now)
        if (
            Fault.RCD in self._active
            and self._rcd_unplugged
            and self._rcd_tested_since_trip()
            and not self._rcd_input
        ):
            self._clear(
                Fault.RCD, now, None, "RCD fault cleared: EV unplugged and RCD self-test passed"
            )
        oc_since = self._active.get(Fault.OVERCURRENT)
        if (
            oc_since is not None
            and not self._oc_latched
            and reached(now, oc_since, cfg.overcurrent_recovery_s)
            and self._last_irms <= self._overcurrent_threshold(now)
        ):
            self._clear(
                Fault.OVERCURRENT,
                now,
                self._last_irms,
                f"over-current cleared after {cfg.overcurrent_recovery_s:.0f} s",
            )
        if (
            Fault.ADC_SILENT in self._active
            and self._flowing_since is not None
            and self._last_sample is not None
            and reached(self._last_sample, self._flowing_since, cfg.adc_recovery_s)
        ):
            self._clear(
                Fault.ADC_SILENT,
                now,
                self._last_sample - self._flowing_since,
                f"metering ADC samples flowing again for {cfg.adc_recovery_s:.0f} s",
            )
        return self._decision(now)

    def _rcd_tested_since_trip(self) -> bool:
        """Whether a self-test passed after the RCD fault was raised (in either order
        with the unplug: both are needed, neither has to come first)."""
        tripped = self._active.get(Fault.RCD)
        passed = self._selftest_passed_at
        return tripped is not None and passed is not None and passed > tripped

    def _decision(self, now: float) -> Decision:
        cfg = self._cfg
        checks_ok = self._voltage_seen and self._selftest_passed_at is not None
        deadlines: list[float] = []
        if self._last_sample is None:
            deadlines.append(self._started + cfg.adc_startup_grace_s)
        else:
            deadlines.append(self._last_sample + cfg.adc_silent_s)
        selftest_deadline = self._selftest.deadline
        if selftest_deadline is not None:
            deadlines.append(selftest_deadline)
        oc_since = self._active.get(Fault.OVERCURRENT)
        if oc_since is not None and not self._oc_latched:
            deadlines.append(oc_since + cfg.overcurrent_recovery_s)
        future = [d for d in deadlines if d > now]
        events = tuple(self._events)
        self._events.clear()
        latched = {Fault.TAMPER, Fault.RCD, Fault.RCD_SELFTEST}
        if self._oc_latched:
            latched.add(Fault.OVERCURRENT)
        return Decision(
            permit=checks_ok and not self._active and not self._selftest.running,
            faults=frozenset(self._active),
            latched=frozenset(latched.intersection(self._active)),
            events=events,
            derating_limit_a=(
                derating_limit_a(self._temperature, cfg)
                if self._derating and self._temperature is not None
                else None
            ),
            rcd_test_output=self._selftest.output,
            rcd_selftest=self._selftest.status,
            self_checks_ok=checks_ok,
            next_deadline=min(future) if future else None,
        )

    # ----- bookkeeping -----------------------------------------------------------------

    def _raise(self, fault: Fault, now: float, value: float | None, message: str) -> None:
        if fault not in self._active:
            self._active[fault] = now
            self._emit(EventKind.RAISED, fault, now, value, message)

    def _clear(self, fault: Fault, now: float, value: float | None, message: str) -> None:
        if self._active.pop(fault, None) is not None:
            self._emit(EventKind.CLEARED, fault, now, value, message)

    def _emit(
        self, kind: EventKind, fault: Fault, now: float, value: float | None, message: str
    ) -> None:
        self._events.append(
            ProtectionEvent(
                t=now,
                kind=kind,
                fault=fault,
                error_code=fault.error_code,
                message=message,
                value=value,
                warning=fault is Fault.DERATING,
            )
        )
