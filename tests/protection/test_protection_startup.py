import pytest

from evnetd.protection import Fault, ProtectionConfig, SelfTestStatus

from .harness import Bench


def test_permit_is_low_until_both_self_checks_pass():
    bench = Bench()
    assert not bench.last.permit
    assert bench.last.rcd_selftest is SelfTestStatus.PENDING
    bench.rcd(False)
    assert bench.last.rcd_test_output  # start-up test begins once the input is known
    bench.cycles(0.02)
    assert not bench.last.permit  # mains seen, test still running
    bench.rcd(True, 0.01)
    bench.poll(0.04)
    bench.rcd(False, 0.02)
    assert bench.last.rcd_selftest is SelfTestStatus.PASSED
    assert bench.last.self_checks_ok and bench.last.permit
    assert bench.events == []


def test_self_test_alone_is_not_enough():
    bench = Bench()
    bench.rcd(False)
    bench.selftest()
    assert not bench.last.permit and not bench.last.self_checks_ok
    bench.cycles(0.02, frequency=None)  # a free-running window is not a mains cycle
    assert not bench.last.permit
    bench.cycles(0.02)
    assert bench.last.permit


def test_self_test_waits_while_the_rcd_input_is_unknown():
    bench = Bench()
    bench.cycles(0.1)
    assert not bench.last.rcd_test_output
    assert bench.last.rcd_selftest is SelfTestStatus.PENDING


@pytest.mark.parametrize(
    ("trip_after", "release_after", "passes", "detail"),
    [
        (0.01, 0.02, True, ""),
        (0.099, 0.9, True, ""),
        (None, None, False, "did not go active within 100 ms"),
        (0.1, 0.02, False, "did not go active within 100 ms"),
        (0.01, None, False, "did not release within 1.0 s"),
    ],
)
def test_self_test_outcomes(trip_after, release_after, passes, detail):
    bench = Bench()
    bench.rcd(False)
    bench.cycles(0.0)
    start = bench.now
    assert bench.last.next_deadline == pytest.approx(start + 0.04)
    if trip_after is not None:
        bench.poll(start + trip_after)  # the shell polls at deadlines
        if bench.last.rcd_selftest is SelfTestStatus.RUNNING:
            bench.rcd(True)
    while bench.last.rcd_selftest is SelfTestStatus.RUNNING:
        deadline = bench.last.next_deadline
        if release_after is not None and start + 0.04 + release_after < deadline:
            bench.rcd(False, start + 0.04 + release_after - bench.now)
        else:
            bench.poll(deadline)
    if passes:
        assert bench.last.rcd_selftest is SelfTestStatus.PASSED
        assert Fault.RCD_SELFTEST not in bench.last.faults
    else:
        assert Fault.RCD_SELFTEST in bench.last.faults
        # a module stuck active after the test also counts as residual current
        assert (Fault.RCD in bench.last.faults) == bool(release_after is None and trip_after)
        event = next(e for e in bench.events if e.fault is Fault.RCD_SELFTEST)
        assert detail in event.message
        assert event.error_code == "GroundFailure"
        bench.cycles(0.1)
        assert not bench.last.permit


def test_failed_self_test_clears_when_a_later_one_passes():
    bench = Bench()
    bench.rcd(False)
    bench.poll(0.2)  # the module never trips
    assert Fault.RCD_SELFTEST in bench.last.faults
    bench.cycles(0.1)
    assert not bench.last.permit
    bench.selftest()
    assert Fault.RCD_SELFTEST not in bench.last.faults
    assert bench.cleared() == [Fault.RCD_SELFTEST]
    assert bench.last.permit


def test_permit_is_low_during_a_requested_self_test():
    bench = Bench()
    bench.ready()
    decision = bench.core.request_rcd_selftest(bench.now)
    assert not decision.permit and decision.rcd_test_output
    bench.rcd(True, 0.005)
    bench.poll(bench.last.next_deadline)
    bench.rcd(False, 0.01)
    assert bench.last.permit
    assert bench.events == []  # the test's trip is not a leakage fault


def test_adc_that_never_starts_is_reported():
    bench = Bench()
    bench.rcd(False)
    assert bench.last.next_deadline == pytest.approx(0.04)
    bench.poll(0.999)
    assert Fault.ADC_SILENT not in bench.last.faults
    bench.poll(1.0)
    assert Fault.ADC_SILENT in bench.last.faults
    assert [e.error_code for e in bench.events if e.fault is Fault.ADC_SILENT] == [
        "PowerMeterFailure"
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pen_confirm_s": 6.0},
        {"undervoltage_v": 210.0},
        {"overvoltage_v": 250.0},
        {"pen_recovery_v": 80.0},
        {"overcurrent_factor": 0.9},
        {"derate_end_c": 80.0},
        {"overtemp_recovery_c": 85.0},
        {"rcd_test_pulse_s": 0.2},
        {"adc_silent_s": float("nan")},
        {"voltage_recovery_s": -1.0},
    ],
)
def test_config_is_validated(kwargs):
    with pytest.raises(ValueError):
        ProtectionConfig(**kwargs)
