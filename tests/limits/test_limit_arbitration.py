"""Current-limit arbitration: minimum with its source, expiry fallbacks, the 6 A rule."""

from __future__ import annotations

import math

import pytest

from evnetd.limits.arbitration import (
    DEFAULT_PULSE_ON_S,
    DEFAULT_PULSE_PERIOD_S,
    Arbiter,
    KeepAwake,
    Limit,
    LimitError,
    LimitSource,
    LimitSourceError,
    PulseTiming,
    Resolution,
    UserLimitStepError,
)

HW, INST, USER, CABLE, THERM, OCPP, ENERGY, REMOTE = (
    LimitSource.HARDWARE,
    LimitSource.INSTALLER,
    LimitSource.USER,
    LimitSource.CABLE,
    LimitSource.THERMAL,
    LimitSource.OCPP,
    LimitSource.ENERGY,
    LimitSource.REMOTE,
)


def test_hardware_alone() -> None:
    assert Arbiter().resolve(0.0) == Resolution(32.0, 32.0, HW, (Limit(HW, 32.0),), None)


@pytest.mark.parametrize(
    ("limits", "offered", "source"),
    [
        ({INST: 25.0}, 25.0, INST),
        ({INST: 25.0, USER: 16.0}, 16.0, USER),
        ({USER: 16.0, CABLE: 13.0}, 13.0, CABLE),
        ({CABLE: 20.0, THERM: 18.5}, 18.5, THERM),
        ({OCPP: 10.0, ENERGY: 12.0}, 10.0, OCPP),
        ({ENERGY: 7.3}, 7.3, ENERGY),
        ({REMOTE: 8.0, ENERGY: 9.0}, 8.0, REMOTE),
        ({INST: 40.0}, 32.0, HW),  # above the hardware rating: hardware rules
        ({USER: 16.0, OCPP: 16.0, ENERGY: 16.0}, 16.0, USER),  # tie: the first listed
        ({INST: 32.0}, 32.0, HW),
        ({ENERGY: 6.0}, 6.0, ENERGY),  # exactly 6 A is offered
    ],
)
def test_lowest_limit_wins_and_is_named(
    limits: dict[LimitSource, float], offered: float, source: LimitSource
) -> None:
    arbiter = Arbiter()
    for src, amps in limits.items():
        arbiter.set(src, amps)
    resolution = arbiter.resolve(0.0)
    assert (resolution.offered_a, resolution.limit_a, resolution.source) == (
        offered,
        offered,
        source,
    )


def test_active_limits_are_listed_lowest_first() -> None:
    arbiter = Arbiter(hardware_a=32.0)
    arbiter.set(ENERGY, 20.0, expires_at=60.0)
    arbiter.set(CABLE, 13.0)
    assert arbiter.resolve(0.0).limits == (
        Limit(CABLE, 13.0),
        Limit(ENERGY, 20.0, 60.0),
        Limit(HW, 32.0),
    )


def test_clear_removes_a_limit() -> None:
    arbiter = Arbiter()
    arbiter.set(USER, 10.0)
    arbiter.clear(USER)
    arbiter.clear(OCPP)  # none set: no effect
    assert arbiter.resolve(0.0).offered_a == 32.0


def test_refreshing_keeps_a_limit_alive() -> None:
    arbiter = Arbiter()
    arbiter.set(ENERGY, 20.0, expires_at=10.0)
    arbiter.set(ENERGY, 18.0, expires_at=20.0)
    resolution = arbiter.resolve(15.0)
    assert resolution.offered_a == 18.0 and resolution.next_expiry == 20.0


@pytest.mark.parametrize(
    ("source", "amps", "at_expiry"),
    [
        (ENERGY, 20.0, 6.0),  # the energy manager went silent: failsafe 6 A
        (OCPP, 16.0, 6.0),
        (THERM, 18.0, 6.0),
        (ENERGY, 4.0, None),  # it had paused us: expiry never raises the offer
        (USER, 10.0, 32.0),  # a person's temporary cap simply ends
        (REMOTE, 8.0, 32.0),
    ],
)
def test_expiry_falls_back_per_source(source: LimitSource, amps: float, at_expiry: float | None) -> None:
    arbiter = Arbiter()
    arbiter.set(source, amps, expires_at=100.0)
    before = arbiter.resolve(99.99)
    assert before.offered_a == (amps if amps >= 6 else None)
    assert before.next_expiry == 100.0
    after = arbiter.resolve(100.0)
    assert after.offered_a == at_expiry
    assert after.next_expiry is None
    lapsed = [limit for limit in after.limits if limit.source is source]
    if source in (USER, REMOTE):
        assert lapsed == []
    else:
        assert lapsed == [Limit(source, min(amps, 6.0), None, fallback=True)]


def test_configured_fallback() -> None:
    arbiter = Arbiter(fallback_a={ENERGY: 10.0})
    arbiter.set(ENERGY, 20.0, expires_at=1.0)
    arbiter.set(OCPP, 20.0, expires_at=1.0)
    resolution = arbiter.resolve(1.0)
    assert (resolution.offered_a, resolution.source) == (6.0, OCPP)
    arbiter.clear(OCPP)
    assert arbiter.resolve(1.0).offered_a == 10.0


@pytest.mark.parametrize("source", [USER, REMOTE, CABLE, INST, HW])
def test_only_expiring_safety_sources_take_a_fallback(source: LimitSource) -> None:
    with pytest.raises(LimitSourceError):
        Arbiter(fallback_a={source: 6.0})


@pytest.mark.parametrize(
    ("keep_awake", "limits", "offered"),
    [
        (KeepAwake.PAUSE, {ENERGY: 4.0}, None),
        (KeepAwake.PULSE, {ENERGY: 4.0}, None),  # a pulse cycle starts with its pause
        (KeepAwake.PULSE, {ENERGY: 4.0, USER: 5.0}, None),  # a person's cap: no bursts either
        (KeepAwake.MINIMUM, {ENERGY: 4.0}, 6.0),
        (KeepAwake.MINIMUM, {ENERGY: 0.0}, 6.0),
        (KeepAwake.MINIMUM, {ENERGY: 4.0, THERM: 5.0}, None),  # protection says no
        (KeepAwake.MINIMUM, {ENERGY: 4.0, USER: 5.0}, None),  # a person's cap says no
        (KeepAwake.MINIMUM, {LimitSource.SITE: 0.0}, None),  # the main fuse or the sharing group says no
        (KeepAwake.MINIMUM, {ENERGY: 0.0, LimitSource.SITE: 4.0}, None),
        (KeepAwake.MINIMUM, {OCPP: 0.0}, None),  # the CSMS's 0 A means stop
        (KeepAwake.MINIMUM, {USER: 3.0}, None),
        (KeepAwake.MINIMUM, {ENERGY: 4.0, OCPP: 6.0}, 6.0),
        (KeepAwake.PAUSE, {USER: 5.0}, None),
    ],
)
def test_below_6_a(keep_awake: KeepAwake, limits: dict[LimitSource, float], offered: float | None) -> None:
    arbiter = Arbiter(keep_awake=keep_awake)
    for source, amps in limits.items():
        arbiter.set(source, amps)
    resolution = arbiter.resolve(0.0)
    assert resolution.offered_a == offered
    assert resolution.limit_a == min(limits.values())


def test_keep_awake_mode_can_change_at_run_time() -> None:
    arbiter = Arbiter()
    arbiter.set(ENERGY, 3.0)
    assert arbiter.resolve(0.0).offered_a is None
    arbiter.keep_awake = KeepAwake.MINIMUM
    assert arbiter.resolve(0.0).offered_a == 6.0


@pytest.mark.parametrize("amps", [0.0, 6.0, 16.0, 32.0])
def test_user_limit_whole_amps(amps: float) -> None:
    arbiter = Arbiter()
    arbiter.set(USER, amps)
    assert arbiter.resolve(0.0).limit_a == amps


@pytest.mark.parametrize("amps", [16.5, 6.1, 0.5])
def test_user_limit_must_be_whole_amps(amps: float) -> None:
    with pytest.raises(UserLimitStepError, match="whole amps") as error:
        Arbiter().set(USER, amps)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("amps", [-1.0, math.nan, math.inf])
@pytest.mark.parametrize("source", [USER, ENERGY, OCPP])
def test_limit_values_must_be_finite_and_non_negative(source: LimitSource, amps: float) -> None:
    with pytest.raises(LimitError, match=source.value):
        Arbiter().set(source, amps)


@pytest.mark.parametrize("hardware_a", [-1.0, math.nan])
def test_hardware_rating_is_validated(hardware_a: float) -> None:
    with pytest.raises(LimitError):
        Arbiter(hardware_a=hardware_a)


def test_hardware_is_fixed() -> None:
    arbiter = Arbiter(hardware_a=16.0)
    with pytest.raises(LimitSourceError):
        arbiter.set(HW, 20.0)
    with pytest.raises(LimitSourceError):
        arbiter.clear(HW)
    assert arbiter.resolve(0.0).offered_a == 16.0


@pytest.mark.parametrize("source", [INST, CABLE])
def test_installation_facts_do_not_expire(source: LimitSource) -> None:
    with pytest.raises(LimitSourceError, match="does not expire"):
        Arbiter().set(source, 20.0, expires_at=10.0)


def test_next_expiry_is_the_earliest_pending() -> None:
    arbiter = Arbiter()
    arbiter.set(ENERGY, 20.0, expires_at=30.0)
    arbiter.set(OCPP, 25.0, expires_at=10.0)
    arbiter.set(REMOTE, 25.0, expires_at=50.0)
    assert arbiter.resolve(0.0).next_expiry == 10.0
    assert arbiter.resolve(10.0).next_expiry == 30.0
    assert arbiter.resolve(50.0).next_expiry is None


PULSE = PulseTiming(on_s=60.0, period_s=900.0)


def test_pulse_defaults_are_60_s_every_15_min() -> None:
    assert (DEFAULT_PULSE_ON_S, DEFAULT_PULSE_PERIOD_S) == (60.0, 900.0) == (PULSE.on_s, PULSE.period_s)


@pytest.mark.parametrize(
    ("at", "offered", "next_change"),
    [
        (100.0, None, 940.0),  # energy management went below 6 A at 100: the cycle starts paused
        (939.999, None, 940.0),
        (940.0, 6.0, 1000.0),  # the burst: the last 60 s of the period
        (999.999, 6.0, 1000.0),
        (1000.0, None, 1840.0),  # the next cycle, paused again
        (1840.0, 6.0, 1900.0),
        (100.0 + 10 * 900 + 850.0, 6.0, 100.0 + 11 * 900),
    ],
)
def test_pulse_bursts_on_a_fake_clock(at: float, offered: float | None, next_change: float) -> None:
    arbiter = Arbiter(keep_awake=KeepAwake.PULSE, pulse=PULSE)
    arbiter.set(ENERGY, 10.0)
    assert arbiter.resolve(50.0).offered_a == 10.0
    arbiter.set(ENERGY, 3.0)
    arbiter.resolve(100.0)  # the moment the condition begins anchors the cycle
    resolution = arbiter.resolve(at)
    assert resolution.offered_a == offered
    assert resolution.keep_awake is (offered is not None)
    assert resolution.next_expiry == next_change
    assert (resolution.limit_a, resolution.source) == (3.0, ENERGY)  # the pause's cause stays visible


def test_pulse_cycle_restarts_when_the_condition_comes_back() -> None:
    arbiter = Arbiter(keep_awake=KeepAwake.PULSE, pulse=PULSE)
    arbiter.set(ENERGY, 3.0)
    arbiter.resolve(0.0)
    assert arbiter.resolve(850.0).offered_a == 6.0
    arbiter.set(ENERGY, 16.0)  # the sun is back
    assert arbiter.resolve(860.0).offered_a == 16.0
    arbiter.set(ENERGY, 2.0)
    assert arbiter.resolve(870.0).offered_a is None  # a new cycle from 870, paused first
    assert arbiter.resolve(870.0 + 840.0).offered_a == 6.0


def test_no_bursts_against_protection_or_a_person() -> None:
    arbiter = Arbiter(keep_awake=KeepAwake.PULSE, pulse=PULSE)
    arbiter.set(ENERGY, 3.0)
    arbiter.set(THERM, 4.0)
    assert all(arbiter.resolve(t).offered_a is None for t in (0.0, 850.0, 899.0, 1750.0))
    arbiter.clear(THERM)
    arbiter.resolve(2000.0)
    assert arbiter.resolve(2000.0 + 840.0).offered_a == 6.0  # the cycle starts when it cleared


def test_an_expiring_energy_limit_with_pulse_still_wakes_the_loop_then() -> None:
    arbiter = Arbiter(keep_awake=KeepAwake.PULSE, pulse=PULSE)
    arbiter.set(ENERGY, 3.0, expires_at=500.0)
    assert arbiter.resolve(0.0).next_expiry == 500.0  # before the first burst edge (840)


@pytest.mark.parametrize(("on_s", "period_s"), [(60.0, 60.0), (0.0, 900.0), (90.0, 60.0), (math.inf, 900.0)])
def test_bad_pulse_timing_is_refused(on_s: float, period_s: float) -> None:
    with pytest.raises(ValueError, match="pulse"):
        PulseTiming(on_s, period_s)
