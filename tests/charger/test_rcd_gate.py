"""The RCD self-test before a session: only a result reached after the request counts."""

from __future__ import annotations

from evnetd.charger.rcd_gate import TIMEOUT_S, GateOutcome, GateState, RcdGate


def test_passes_after_the_meter_ran_the_test() -> None:
    gate = RcdGate()
    gate.request("passed", 0.0)  # the start-up test's result: not this one
    assert gate.observe("passed", 0.01) is None and gate.state is GateState.WAITING
    assert gate.observe("running", 0.02) is None
    assert gate.observe("passed", 0.2) == GateOutcome(True, "")
    assert gate.state is GateState.PASSED and gate.deadline is None


def test_fails_when_the_meter_says_so() -> None:
    gate = RcdGate()
    gate.request("idle", 0.0)
    gate.observe("running", 0.01)
    outcome = gate.observe("failed", 0.2)
    assert outcome is not None and not outcome.passed and gate.state is GateState.FAILED


def test_a_test_already_running_counts() -> None:
    gate = RcdGate()
    gate.request("running", 0.0)
    assert gate.observe("passed", 0.1) == GateOutcome(True, "")


def test_a_pending_test_that_never_runs_times_out() -> None:
    """The meter keeps a test pending while the RCD input is active."""
    gate = RcdGate()
    gate.request("passed", 10.0)
    gate.observe("pending", 10.01)
    assert gate.deadline == 10.0 + TIMEOUT_S
    assert gate.poll(10.0 + TIMEOUT_S - 0.001) is None
    outcome = gate.poll(10.0 + TIMEOUT_S)
    assert outcome is not None and not outcome.passed and "no result" in outcome.detail
    assert gate.poll(100.0) is None  # decided once


def test_no_meter_no_energy() -> None:
    gate = RcdGate()
    gate.request("", 0.0)
    outcome = gate.call_failed("org.evnet.Meter1 is not running")
    assert outcome is not None and not outcome.passed and "not running" in outcome.detail


def test_reset_forgets_and_ignores_late_news() -> None:
    gate = RcdGate()
    gate.request("passed", 0.0)
    gate.reset()
    assert gate.observe("running", 0.1) is None and gate.observe("passed", 0.2) is None
    assert gate.call_failed("late") is None and gate.state is GateState.IDLE
