"""Over-current: 1.2 × Imax for 1 s, back after 60 s, three times a session."""

import pytest

from evnetd.protection import Fault, ProtectionConfig

from .harness import Bench


@pytest.mark.parametrize(
    ("offered", "irms", "seconds", "trips"),
    [
        (None, 38.4, 5.0, False),  # None means 32 A: 1.2 × 32 = 38.4 A is allowed
        (None, 38.5, 0.98, False),  # not yet for 1 s
        (None, 38.5, 1.0, True),
        (16.0, 19.2, 5.0, False),
        (16.0, 19.3, 1.0, True),
        (6.0, 7.3, 1.0, True),
        (40.0, 39.0, 1.0, True),  # an offer above the hardware maximum counts as 32 A
        (0.0, 7.19, 5.0, False),  # paused: Imax floors at 6 A, meter noise never trips
        (0.0, 7.3, 1.0, True),
    ],
)
def test_overcurrent_threshold_and_confirm_time(offered, irms, seconds, trips):
    bench = Bench()
    bench.offer(offered)
    bench.ready()
    decision = bench.cycles(seconds, irms=irms)
    assert (Fault.OVERCURRENT in decision.faults) == trips
    if trips:
        (event,) = bench.events
        assert event.error_code == "OverCurrentFailure" and event.value == irms
        assert "trip 1 this session" in event.message


def test_a_short_dip_restarts_the_confirm_time():
    bench = Bench()
    bench.offer(16.0)
    bench.ready()
    bench.cycles(0.9, irms=25.0)
    bench.cycles(0.02, irms=18.0)
    bench.cycles(0.98, irms=25.0)
    assert not bench.last.faults
    bench.cycles(0.02, irms=25.0)
    assert bench.last.faults == {Fault.OVERCURRENT}


def test_the_ev_gets_10_s_to_follow_a_lower_offer():
    bench = Bench()
    bench.offer(32.0)
    bench.ready()
    bench.cycles(1.0, irms=31.0)
    bench.offer(16.0)
    bench.cycles(10.9, irms=31.0)  # 10 s of grace, then 1 s over 19.2 A
    assert not bench.last.faults
    bench.cycles(0.1, irms=31.0)
    assert bench.last.faults == {Fault.OVERCURRENT}


def test_a_higher_offer_applies_at_once():
    bench = Bench()
    bench.offer(10.0)
    bench.ready()
    bench.offer(32.0)
    bench.cycles(3.0, irms=31.0)
    assert not bench.last.faults


def trip(bench: Bench) -> None:
    bench.cycles(1.0, irms=45.0)
    assert Fault.OVERCURRENT in bench.last.faults


def test_overcurrent_recovers_after_60_s():
    bench = Bench()
    bench.ready()
    trip(bench)
    tripped_at = bench.now
    assert bench.last.next_deadline == pytest.approx(tripped_at + 0.05)
    bench.cycles(59.98)
    assert bench.last.faults == {Fault.OVERCURRENT}
    assert bench.core.poll(tripped_at + 59.999).faults == {Fault.OVERCURRENT}
    assert bench.core.poll(tripped_at + 60.0).faults == set()


def test_overcurrent_recovery_deadline_is_reported():
    bench = Bench()
    bench.ready()
    trip(bench)
    tripped_at = bench.now
    bench.adc_running = False
    decision = bench.core.observe_metering([], tripped_at, tripped_at)
    assert decision.next_deadline == pytest.approx(tripped_at + 0.05)
    decision = bench.core.poll(tripped_at + 0.05)  # ADC silent from here on
    assert decision.next_deadline == pytest.approx(tripped_at + 60.0)


def test_three_automatic_recoveries_then_latched_until_unplug():
    bench = Bench()
    bench.ready()
    for n in (1, 2, 3):
        trip(bench)
        assert bench.last.latched == set()
        bench.cycles(60.0)
        assert not bench.last.faults, n
    trip(bench)
    assert "latched until unplug" in bench.events[-1].message
    assert bench.last.latched == {Fault.OVERCURRENT}
    bench.cycles(300.0)
    assert bench.last.faults == {Fault.OVERCURRENT}
    result = bench.core.clear_faults(bench.now)
    assert "clears on unplug" in result.refused[Fault.OVERCURRENT]
    bench.plug(False)
    assert not bench.last.faults
    bench.plug(True)  # new session: three more automatic recoveries
    for _ in (1, 2, 3):
        trip(bench)
        bench.cycles(60.0)
        assert not bench.last.faults


def test_unplug_resets_the_count_without_clearing_a_timed_trip():
    bench = Bench()
    bench.ready()
    trip(bench)
    bench.cycles(60.0)
    trip(bench)
    bench.plug(False)
    assert bench.last.faults == {Fault.OVERCURRENT}  # still 60 s
    bench.cycles(60.0)
    bench.plug(True)
    for _ in (1, 2, 3):
        trip(bench)
        assert bench.last.latched == set()
        bench.cycles(60.0)


def test_overcurrent_does_not_recover_while_current_still_flows():
    bench = Bench(ProtectionConfig(overcurrent_auto_recoveries=5))
    bench.ready()
    trip(bench)
    bench.cycles(70.0, irms=45.0)  # e.g. a welded contactor: PERMIT cannot stop it
    assert bench.last.faults == {Fault.OVERCURRENT}
    bench.cycles(0.02, irms=0.0)
    assert not bench.last.faults
