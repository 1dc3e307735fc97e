"""The half-cycle fast path: over-voltage and PEN trip before the cycle window closes."""

from __future__ import annotations

import pytest

from evnetd.protection.config import ProtectionConfig
from evnetd.protection.faults import Fault

from .harness import Bench


@pytest.mark.parametrize(
    ("vrms", "npe", "fault"),
    [(301.0, 1.0, Fault.OVERVOLTAGE), (230.0, 71.0, Fault.PEN)],
)
def test_instant_rules_trip_on_half_cycle(vrms: float, npe: float, fault: Fault) -> None:
    bench = Bench()
    bench.ready()
    decision = bench.core.observe_half_cycle(vrms, npe, bench.now + 0.005)
    assert not decision.permit
    assert fault in decision.faults


@pytest.mark.parametrize(("vrms", "npe"), [(300.0, 1.0), (230.0, 70.0)])
def test_at_the_threshold_nothing_trips(vrms: float, npe: float) -> None:
    bench = Bench()
    bench.ready()
    decision = bench.core.observe_half_cycle(vrms, npe, bench.now + 0.005)
    assert decision.permit and not decision.faults


def test_confirm_time_leaves_the_decision_to_cycles() -> None:
    bench = Bench(ProtectionConfig(voltage_confirm_s=0.1, pen_confirm_s=0.1))
    bench.ready()
    decision = bench.core.observe_half_cycle(320.0, 120.0, bench.now + 0.005)
    assert decision.permit and not decision.faults


def test_a_normal_cycle_that_began_before_the_jump_does_not_clear_it() -> None:
    bench = Bench()
    bench.ready()
    bench.cycles(11.0)  # 11 s of normal voltage: the recovery run is already long
    bench._record(bench.core.observe_half_cycle(320.0, 1.0, bench.now + 0.005))
    assert Fault.OVERVOLTAGE in bench.last.faults
    bench.cycles(0.02, vrms=240.0)  # the window straddling the jump still reads normal
    assert Fault.OVERVOLTAGE in bench.last.faults
    assert not bench.last.permit
    bench.cycles(10.1)
    assert Fault.OVERVOLTAGE not in bench.last.faults
