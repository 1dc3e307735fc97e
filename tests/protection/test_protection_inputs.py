"""RCD, tamper, temperature and the ADC watchdog."""

import pytest

from evnetd.protection import (
    EventKind,
    Fault,
    ProtectionConfig,
    ProtectionCore,
    SelfTestStatus,
    derating_limit_a,
)

from .harness import Bench

# ----- RCD -----------------------------------------------------------------------------


def test_rcd_trips_in_the_same_call_and_latches():
    bench = Bench()
    bench.ready()
    decision = bench.rcd(True)
    assert not decision.permit
    assert decision.faults == {Fault.RCD} and decision.latched == {Fault.RCD}
    (event,) = decision.events
    assert event.error_code == "GroundFailure" and event.kind is EventKind.RAISED
    bench.cycles(120.0)
    assert bench.last.faults == {Fault.RCD}
    assert bench.last.rcd_selftest is SelfTestStatus.PENDING  # until the input releases


def test_rcd_recovery_needs_unplug_and_a_passing_self_test():
    bench = Bench()
    bench.ready()
    bench.rcd(True)
    bench.rcd(False, 0.3)
    # the test requested at the trip runs as soon as the input releases, and passes,
    # but the EV is still plugged in
    assert bench.last.rcd_selftest is SelfTestStatus.RUNNING
    bench.rcd(True, 0.01)
    bench.poll(bench.last.next_deadline)
    bench.rcd(False, 0.02)
    assert bench.last.rcd_selftest is SelfTestStatus.PASSED
    assert bench.last.faults == {Fault.RCD}
    result = bench.core.clear_faults(bench.now)
    assert result.cleared == set() and "unplug" in result.refused[Fault.RCD]
    bench.plug(False)  # the test after the trip counts: no second one needed
    assert not bench.last.faults and bench.last.permit
    assert not bench.last.rcd_test_output
    assert bench.cleared() == [Fault.RCD]


def test_rcd_unplugged_before_any_test_needs_one():
    bench = Bench()
    bench.ready()
    bench.rcd(True)
    bench.plug(False)
    bench.poll(bench.now + 0.5)
    assert bench.last.faults == {Fault.RCD}
    bench.rcd(False)
    assert bench.last.rcd_test_output
    bench.rcd(True, 0.01)
    bench.poll(bench.last.next_deadline)
    bench.rcd(False, 0.02)
    assert not bench.last.faults and bench.last.permit


def test_rcd_with_the_plug_already_out_recovers_on_a_passing_test():
    bench = Bench()
    bench.ready()
    bench.plug(False)
    bench.rcd(True)
    bench.rcd(False, 0.2)
    assert bench.last.rcd_test_output
    bench.rcd(True, 0.01)
    bench.poll(bench.last.next_deadline)
    bench.rcd(False, 0.02)
    assert not bench.last.faults


def test_rcd_recovery_fails_when_the_test_fails():
    bench = Bench()
    bench.ready()
    bench.rcd(True)
    bench.rcd(False, 0.2)
    bench.plug(False)
    bench.poll(bench.now + 0.1)  # the module does not answer the test pulse
    assert bench.last.faults == {Fault.RCD, Fault.RCD_SELFTEST}
    bench.plug(True)
    bench.plug(False)  # each unplug retries
    bench.rcd(True, 0.01)
    bench.poll(bench.last.next_deadline)
    bench.rcd(False, 0.02)
    assert not bench.last.faults


def test_rcd_input_active_before_the_start_up_test():
    bench = Bench()
    bench.rcd(True)
    assert bench.last.faults == {Fault.RCD}
    assert bench.last.rcd_selftest is SelfTestStatus.PENDING
    bench.plug(False)
    bench.rcd(False, 0.5)
    bench.rcd(True, 0.01)
    bench.poll(bench.last.next_deadline)
    bench.rcd(False, 0.02)
    bench.cycles(0.02)
    assert bench.last.permit


# ----- tamper ---------------------------------------------------------------------------


def test_tamper_latches_until_an_operator_clears_it_with_the_switch_closed():
    bench = Bench()
    bench.ready()
    decision = bench.tamper(True)
    assert not decision.permit and decision.latched == {Fault.TAMPER}
    (event,) = decision.events
    assert event.error_code == "OtherError" and event.fault.value == "tamper"
    result = bench.core.clear_faults(bench.now)
    assert result.cleared == set()
    assert "still open" in result.refused[Fault.TAMPER]
    bench.tamper(False)
    bench.cycles(60.0)
    assert bench.last.faults == {Fault.TAMPER}  # never by itself
    result = bench.core.clear_faults(bench.now)
    assert result.cleared == {Fault.TAMPER} and result.refused == {}
    assert result.decision.permit
    assert [e.kind for e in result.decision.events] == [EventKind.CLEARED]


def test_tamper_restored_after_restart_is_not_cleared_before_the_switch_is_read():
    bench = Bench(latched=[Fault.TAMPER])
    assert bench.raised() == [Fault.TAMPER]
    result = bench.core.clear_faults(0.0)
    assert "not been read" in result.refused[Fault.TAMPER]
    bench.tamper(False)
    assert bench.core.clear_faults(0.0).cleared == {Fault.TAMPER}


def test_restored_overcurrent_latch_clears_on_unplug():
    bench = Bench(latched=[Fault.OVERCURRENT])
    bench.rcd(False)
    bench.selftest()
    bench.cycles(0.1)
    assert bench.last.faults == {Fault.OVERCURRENT}
    assert bench.last.latched == {Fault.OVERCURRENT}
    bench.cycles(120.0)
    assert bench.last.faults == {Fault.OVERCURRENT}
    bench.plug(False)
    assert bench.last.permit


def test_only_latching_faults_can_be_restored():
    with pytest.raises(ValueError):
        ProtectionCore(now=0.0, latched=[Fault.PEN])


# ----- temperature ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("celsius", "limit"),
    [(20.0, 32.0), (72.0, 32.0), (73.5, 25.5), (75.0, 19.0), (78.0, 6.0), (78.9, 6.0)],
)
def test_derating_curve(celsius, limit):
    assert derating_limit_a(celsius, ProtectionConfig()) == pytest.approx(limit)


@pytest.mark.parametrize(
    ("celsius", "limit", "fault"),
    [
        (71.9, None, False),
        (72.0, 32.0, False),
        (75.0, 19.0, False),
        (78.0, 6.0, False),
        (78.99, 6.0, False),
        (79.0, 6.0, True),
        (95.0, 6.0, True),
    ],
)
def test_temperature_derates_then_trips(celsius, limit, fault):
    bench = Bench()
    bench.ready()
    decision = bench.temperature(celsius)
    assert decision.derating_limit_a == pytest.approx(limit) if limit else limit is None
    assert (Fault.OVERTEMP in decision.faults) == fault
    assert decision.permit != fault
    if limit is not None:
        warning = next(e for e in decision.events if e.fault is Fault.DERATING)
        assert warning.warning and warning.error_code == "HighTemperature"
        assert Fault.DERATING not in decision.faults
    if not fault and limit is not None:
        assert decision.error_code == "HighTemperature"


def test_derating_has_hysteresis_and_events_only_on_change():
    bench = Bench()
    bench.ready()
    bench.temperature(72.5)
    bench.temperature(71.5)
    bench.temperature(72.4)
    assert bench.last.derating_limit_a == pytest.approx(32.0 - 0.4 / 6 * 26)
    assert [e.kind for e in bench.events] == [EventKind.RAISED]
    bench.temperature(71.0)
    assert bench.last.derating_limit_a == pytest.approx(32.0)
    bench.temperature(70.9)
    assert bench.last.derating_limit_a is None
    assert [e.kind for e in bench.events] == [EventKind.RAISED, EventKind.CLEARED]
    assert bench.last.permit


@pytest.mark.parametrize(("cool_to", "recovers"), [(75.0, False), (70.0, False), (69.9, True)])
def test_overtemperature_recovers_below_70(cool_to, recovers):
    bench = Bench()
    bench.ready()
    bench.temperature(80.0)
    decision = bench.temperature(cool_to)
    assert (Fault.OVERTEMP not in decision.faults) == recovers


def test_temperature_must_be_a_number():
    with pytest.raises(ValueError):
        Bench().temperature(float("nan"))


# ----- ADC watchdog ---------------------------------------------------------------------


def test_adc_silent_for_50_ms_trips_at_the_deadline():
    bench = Bench()
    bench.ready()
    bench.adc_running = False
    last = bench.now
    assert bench.last.next_deadline == pytest.approx(last + 0.05)
    assert not bench.poll(last + 0.049).faults
    decision = bench.poll(last + 0.05)
    assert decision.faults == {Fault.ADC_SILENT} and not decision.permit
    assert decision.events[0].value == pytest.approx(0.05)
    assert decision.events[0].error_code == "PowerMeterFailure"


def test_a_late_block_still_counts_as_silence():
    bench = Bench()
    bench.ready()
    bench.adc_running = False
    t = bench.now + 0.08  # the shell missed its deadline; the next block arrives late
    decision = bench.core.observe_metering([], t, t)
    assert decision.faults == {Fault.ADC_SILENT}


def test_adc_recovers_after_5_s_of_samples():
    bench = Bench()
    bench.ready()
    bench.adc_running = False
    bench.poll(bench.now + 0.2)
    bench.cycles(5.0)  # the first block's newest sample starts the 5 s
    assert bench.last.faults == {Fault.ADC_SILENT}
    bench.cycles(0.02)
    assert not bench.last.faults and bench.last.permit


def test_a_new_gap_restarts_the_5_s():
    bench = Bench()
    bench.ready()
    bench.adc_running = False
    bench.poll(bench.now + 0.2)
    bench.cycles(3.0)
    bench.adc_running = False
    bench.poll(bench.now + 0.06)
    bench.cycles(5.0)
    assert bench.last.faults == {Fault.ADC_SILENT}
    bench.cycles(0.02)
    assert not bench.last.faults


# ----- several faults -------------------------------------------------------------------


def test_error_code_follows_priority_and_clear_faults_explains_each_refusal():
    bench = Bench()
    bench.ready()
    bench.tamper(True)
    bench.temperature(85.0)
    bench.cycles(0.02, vrms=320.0, npe=90.0)
    assert bench.last.error_code == "GroundFailure"
    result = bench.core.clear_faults(bench.now)
    assert set(result.refused) == {Fault.TAMPER, Fault.OVERTEMP, Fault.OVERVOLTAGE, Fault.PEN}
    assert all(result.refused.values())
    bench.cycles(61.0)
    bench.temperature(60.0)
    assert bench.last.faults == {Fault.TAMPER}
    assert bench.last.error_code == "OtherError"
    bench.tamper(False)
    assert bench.core.clear_faults(bench.now).decision.error_code == "NoError"
