"""A fake-clock driver for the protection core: feeds 20 ms cycles and collects events."""

from __future__ import annotations

from evnetd.metering.measurement import CycleMeasurement
from evnetd.protection.config import ProtectionConfig
from evnetd.protection.core import Decision, ProtectionCore
from evnetd.protection.faults import EventKind, Fault, ProtectionEvent

CYCLE = 0.02


def cycle(
    t_end: float,
    *,
    vrms: float = 230.0,
    irms: float = 0.0,
    npe: float = 1.0,
    frequency: float | None = 50.0,
    duration: float = CYCLE,
) -> CycleMeasurement:
    return CycleMeasurement(
        t_end=t_end,
        duration=duration,
        vrms=vrms,
        irms=irms,
        power_w=vrms * irms,
        apparent_va=vrms * irms,
        power_factor=1.0,
        frequency_hz=frequency,
        npe_vrms=npe,
        site_irms=0.0,
        load_vrms=vrms,
    )


class Bench:
    """The core plus a clock; ``ready()`` brings it to PERMIT high like a normal boot."""

    def __init__(self, config: ProtectionConfig | None = None, **kwargs: object) -> None:
        self.now = 0.0
        self.core = (
            ProtectionCore(config, now=0.0, **kwargs)  # type: ignore[arg-type]
            if config
            else ProtectionCore(now=0.0, **kwargs)  # type: ignore[arg-type]
        )
        self.events: list[ProtectionEvent] = []
        self.adc_running = False
        """While True, moving the clock also reports ADC samples up to the new time."""
        self.last: Decision = self.core.poll(0.0)
        self._record(self.last)

    def _record(self, decision: Decision) -> Decision:
        self.events += decision.events
        self.last = decision
        return decision

    def at(self, t: float) -> float:
        """Move the clock to ``t``; with the ADC running, blocks keep arriving meanwhile."""
        assert t >= self.now
        if self.adc_running:
            while self.now + CYCLE < t:
                self.now += CYCLE
                self._record(self.core.observe_metering([], self.now, self.now))
            self._record(self.core.observe_metering([], t, t))
        self.now = t
        return t

    def rcd(self, active: bool, dt: float = 0.0) -> Decision:
        return self._record(self.core.observe_rcd(active, self.at(self.now + dt)))

    def tamper(self, active: bool) -> Decision:
        return self._record(self.core.observe_tamper(active, self.now))

    def temperature(self, celsius: float) -> Decision:
        return self._record(self.core.observe_temperature(celsius, self.now))

    def plug(self, present: bool) -> Decision:
        return self._record(self.core.observe_plug(present, self.now))

    def offer(self, amps: float | None) -> Decision:
        return self._record(self.core.set_offered_current(amps, self.now))

    def poll(self, t: float | None = None) -> Decision:
        return self._record(self.core.poll(self.at(self.now if t is None else t)))

    def selftest(self) -> Decision:
        """Run a self-test the RCD module passes: trips 10 ms in, releases 20 ms after."""
        self._record(self.core.request_rcd_selftest(self.now))
        assert self.last.rcd_test_output
        self.rcd(True, 0.01)
        deadline = self.last.next_deadline
        assert deadline is not None
        self.poll(deadline)
        assert not self.last.rcd_test_output
        return self.rcd(False, 0.02)

    def cycles(self, seconds: float, **kwargs: object) -> Decision:
        """``seconds`` of identical 20 ms cycles, each observed as it ends."""
        self.adc_running = True
        for _ in range(round(seconds / CYCLE)):
            t = self.now = self.now + CYCLE
            self._record(
                self.core.observe_metering([cycle(t, **kwargs)], t, t)  # type: ignore[arg-type]
            )
        return self.last

    def ready(self) -> Decision:
        self.rcd(False)
        self.selftest()
        self.plug(True)
        self.cycles(0.1)
        assert self.last.permit, self.last
        self.events.clear()
        return self.last

    def raised(self) -> list[Fault]:
        return [e.fault for e in self.events if e.kind is EventKind.RAISED]

    def cleared(self) -> list[Fault]:
        return [e.fault for e in self.events if e.kind is EventKind.CLEARED]
