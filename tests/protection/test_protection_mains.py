"""Over/under-voltage and PEN (N-PE voltage) rules."""

import pytest

from evnetd.protection import EventKind, Fault, ProtectionConfig

from .harness import Bench


@pytest.mark.parametrize(
    ("vrms", "fault"),
    [
        (230.0, None),
        (300.0, None),  # the limit itself is allowed
        (300.1, Fault.OVERVOLTAGE),
        (360.0, Fault.OVERVOLTAGE),
        (115.0, None),
        (114.9, Fault.UNDERVOLTAGE),
        (0.0, Fault.UNDERVOLTAGE),  # mains lost
    ],
)
def test_voltage_trips_on_the_first_cycle_out_of_limits(vrms, fault):
    bench = Bench()
    bench.ready()
    decision = bench.cycles(0.02, vrms=vrms)
    if fault is None:
        assert decision.permit and not decision.faults
    else:
        assert not decision.permit
        assert decision.faults == {fault}
        (event,) = decision.events
        assert event.kind is EventKind.RAISED and event.value == vrms
        assert event.error_code == {
            Fault.OVERVOLTAGE: "OverVoltage",
            Fault.UNDERVOLTAGE: "UnderVoltage",
        }[fault]
        assert f"{vrms:.1f} V" in event.message


def test_configured_voltage_limits_and_confirm_time():
    config = ProtectionConfig(overvoltage_v=290.0, voltage_confirm_s=0.1)
    bench = Bench(config)
    bench.ready()
    bench.cycles(0.08, vrms=295.0)
    assert bench.last.permit
    bench.cycles(0.02, vrms=295.0)
    assert bench.last.faults == {Fault.OVERVOLTAGE}


@pytest.mark.parametrize(("bad", "fault"), [(310.0, Fault.OVERVOLTAGE), (90.0, Fault.UNDERVOLTAGE)])
def test_voltage_recovers_after_10_s_within_207_253(bad, fault):
    bench = Bench()
    bench.ready()
    bench.cycles(0.5, vrms=bad)
    bench.cycles(9.98, vrms=230.0)
    assert bench.last.faults == {fault} and not bench.last.permit
    bench.cycles(0.02, vrms=230.0)
    assert not bench.last.faults and bench.last.permit
    assert bench.cleared() == [fault]
    assert "for 10 s" in bench.events[-1].message


@pytest.mark.parametrize("outside", [254.0, 206.0, 280.0, 150.0])
def test_voltage_between_trip_and_recovery_band_keeps_the_fault(outside):
    bench = Bench()
    bench.ready()
    bench.cycles(0.02, vrms=320.0)
    bench.cycles(20.0, vrms=outside)  # no new trip, but no recovery either
    assert bench.last.faults == {Fault.OVERVOLTAGE}
    bench.cycles(6.0, vrms=230.0)
    bench.cycles(0.02, vrms=outside)  # restarts the 10 s
    bench.cycles(9.9, vrms=230.0)
    assert bench.last.faults == {Fault.OVERVOLTAGE}
    bench.cycles(0.1, vrms=230.0)
    assert not bench.last.faults


@pytest.mark.parametrize(
    ("npe", "trips"), [(5.0, False), (70.0, False), (70.1, True), (230.0, True)]
)
def test_pen_trips_on_the_first_cycle_above_70_v(npe, trips):
    bench = Bench()
    bench.ready()
    decision = bench.cycles(0.02, npe=npe)
    assert (Fault.PEN in decision.faults) == trips
    assert decision.permit != trips
    if trips:
        (event,) = decision.events
        assert event.error_code == "GroundFailure" and event.value == npe


def test_pen_confirm_time_is_configurable_up_to_5_s():
    bench = Bench(ProtectionConfig(pen_confirm_s=0.1))
    bench.ready()
    bench.cycles(0.08, npe=90.0)
    assert bench.last.permit
    bench.cycles(0.02, npe=90.0)
    assert bench.last.faults == {Fault.PEN}
    with pytest.raises(ValueError):
        ProtectionConfig(pen_confirm_s=5.1)


def test_pen_recovers_after_60_s_below_50_v():
    bench = Bench()
    bench.ready()
    bench.cycles(1.0, npe=120.0)
    bench.cycles(59.98, npe=49.0)
    assert bench.last.faults == {Fault.PEN}
    bench.cycles(0.02, npe=49.0)
    assert not bench.last.faults and bench.last.permit
    assert bench.cleared() == [Fault.PEN]


def test_pen_between_50_and_70_v_does_not_recover():
    bench = Bench()
    bench.ready()
    bench.cycles(0.02, npe=75.0)
    bench.cycles(120.0, npe=55.0)
    assert bench.last.faults == {Fault.PEN}
    bench.cycles(30.0, npe=10.0)
    bench.cycles(0.02, npe=50.0)  # 50 V is not below 50 V: restarts the 60 s
    bench.cycles(59.0, npe=10.0)
    assert bench.last.faults == {Fault.PEN}
    bench.cycles(1.0, npe=10.0)
    assert not bench.last.faults
