"""CP state detection: bands, hysteresis, F only when driven, diode check, confirmation."""

from __future__ import annotations

import pytest

from evnetd.iec61851.pilot import (
    Diode,
    GeneratorMode,
    PilotDetector,
    PilotReading,
    PilotReport,
    PilotState,
    check_diode,
    classify,
)

A, B, C, D, E, F, BAD = (
    PilotState.A,
    PilotState.B,
    PilotState.C,
    PilotState.D,
    PilotState.E,
    PilotState.F,
    PilotState.INVALID,
)
PWM, X1, F_MODE = GeneratorMode.PWM, GeneratorMode.X1, GeneratorMode.F
PWM_DUTY = 0.533


@pytest.mark.parametrize(
    ("volts", "previous", "state"),
    [
        (13.01, A, BAD),
        (13.0, None, A),
        (12.0, None, A),
        (11.0, None, A),
        # 10–11 V: A only if A already
        (10.99, None, B),
        (10.5, A, A),
        (10.5, B, B),
        (10.0, A, A),
        (9.99, A, B),
        (9.0, None, B),
        (8.0, C, B),
        # 7–8 V: B if A or B already, else C
        (7.99, None, C),
        (7.5, A, B),
        (7.5, B, B),
        (7.5, C, C),
        (7.0, B, B),
        (6.99, B, C),
        (6.0, None, C),
        (5.0, D, C),
        # 4–5 V: C if A, B or C already, else D
        (4.99, None, D),
        (4.5, B, C),
        (4.5, C, C),
        (4.5, D, D),
        (4.0, C, C),
        (3.99, C, D),
        (2.0, None, D),
        (1.99, D, E),
        (0.0, None, E),
        (-1.0, None, E),
        # −2…−1 V: E if A–E already
        (-1.01, None, BAD),
        (-1.5, C, E),
        (-1.5, E, E),
        (-2.0, E, E),
        (-2.01, E, BAD),
        (-6.0, None, BAD),
        (-12.0, None, BAD),  # −12 V while we drive X1/PWM: not an EV, not ours
        (-12.0, F, BAD),
    ],
)
def test_classify_bands_and_hysteresis(volts: float, previous: PilotState | None, state: PilotState) -> None:
    assert classify(volts, previous, PWM) is state
    assert classify(volts, previous, X1) is state


@pytest.mark.parametrize(
    ("volts", "previous", "state"),
    [
        (-13.01, F, BAD),
        (-13.0, None, F),
        (-12.0, None, F),
        (-11.01, None, F),
        # −11…−10 V: F only if F already
        (-11.0, None, BAD),
        (-10.5, F, F),
        (-10.5, B, BAD),
        (-10.0, F, BAD),
        (0.0, F, E),  # we drive −12 V and read 0 V: CP shorted
        (1.99, F, E),
        (2.0, F, BAD),
        (9.0, F, BAD),  # an EV cannot lift a −12 V drive
    ],
)
def test_classify_while_driving_f(volts: float, previous: PilotState | None, state: PilotState) -> None:
    assert classify(volts, previous, F_MODE) is state


@pytest.mark.parametrize(
    ("state", "negative", "mode", "diode"),
    [
        (B, -12.0, PWM, Diode.PRESENT),
        (C, -10.0, PWM, Diode.PRESENT),
        (C, -9.99, PWM, Diode.MISSING),
        (B, -9.0, PWM, Diode.MISSING),  # no diode: the low half mirrors the high one
        (C, -6.0, PWM, Diode.MISSING),
        (D, -3.0, PWM, Diode.MISSING),
        (A, -12.0, PWM, Diode.UNKNOWN),  # no EV: nothing to check
        (E, 0.0, PWM, Diode.UNKNOWN),
        (C, 6.0, X1, Diode.UNKNOWN),  # no low half at 100 %
        (F, -12.0, F_MODE, Diode.UNKNOWN),
    ],
)
def test_check_diode(state: PilotState, negative: float, mode: GeneratorMode, diode: Diode) -> None:
    assert check_diode(state, negative, mode) is diode


@pytest.mark.parametrize(
    ("duty", "mode"),
    [(0.0, F_MODE), (0.001, PWM), (0.533, PWM), (0.999, PWM), (1.0, X1)],
)
def test_generator_mode_of_duty(duty: float, mode: GeneratorMode) -> None:
    assert GeneratorMode.of(duty) is mode


def feed(
    detector: PilotDetector, now: float, pos: float, neg: float | None = None, duty: float = 1.0
) -> PilotReport | None:
    negative = pos if neg is None else neg
    return detector.feed(PilotReading(pos, negative, duty), now)


def test_nothing_is_reported_before_two_readings_agree() -> None:
    detector = PilotDetector()
    assert feed(detector, 0.0, 12.0) is None
    assert feed(detector, 0.01, 9.0) is None  # disagrees with the first
    report = feed(detector, 0.02, 9.0)
    assert report == PilotReport(B, Diode.UNKNOWN, 0.02)


def test_a_state_change_needs_two_consistent_readings() -> None:
    detector = PilotDetector()
    feed(detector, 0.0, 9.0, -12.0, PWM_DUTY)
    feed(detector, 0.01, 9.0, -12.0, PWM_DUTY)
    first = feed(detector, 0.02, 6.0, -12.0, PWM_DUTY)
    assert first is not None and first.state is B
    second = feed(detector, 0.03, 6.0, -12.0, PWM_DUTY)
    assert second == PilotReport(C, Diode.PRESENT, 0.03)


def test_a_single_glitch_is_suppressed() -> None:
    detector = PilotDetector()
    for t in (0.0, 0.01):
        feed(detector, t, 6.0, -12.0, PWM_DUTY)
    for t, volts in ((0.02, 12.0), (0.03, 6.0), (0.04, 0.0), (0.05, 6.0)):
        report = feed(detector, t, volts, -12.0, PWM_DUTY)
        assert report is not None and report.state is C and report.since == 0.01


def test_hysteresis_holds_the_reported_state_on_a_band_edge() -> None:
    detector = PilotDetector()
    for t in (0.0, 0.01):
        feed(detector, t, 12.0)
    for t in (0.02, 0.03, 0.04):
        report = feed(detector, t, 10.5)  # A/B overlap: stays A
        assert report is not None and report.state is A
    feed(detector, 0.05, 9.9)
    report = feed(detector, 0.06, 9.9)
    assert report is not None and report.state is B
    for t in (0.07, 0.08):
        report = feed(detector, t, 10.5)  # same overlap, now B
    assert report is not None and report.state is B


def test_diode_fault_is_confirmed_by_two_readings() -> None:
    detector = PilotDetector()
    for t in (0.0, 0.01):
        feed(detector, t, 9.0, -12.0, PWM_DUTY)
    report = feed(detector, 0.02, 9.0, -9.0, PWM_DUTY)
    assert report is not None and report.diode is Diode.PRESENT
    report = feed(detector, 0.03, 9.0, -9.0, PWM_DUTY)
    assert report is not None and report.diode is Diode.MISSING and report.state is B


def test_cp_short_reads_e() -> None:
    detector = PilotDetector()
    for t in (0.0, 0.01):
        feed(detector, t, 9.0, -12.0, PWM_DUTY)
    for t in (0.02, 0.03):
        report = feed(detector, t, 0.0, 0.0, PWM_DUTY)
    assert report == PilotReport(E, Diode.UNKNOWN, 0.03)


def test_f_is_reported_only_while_driven_and_its_leftovers_are_dropped() -> None:
    detector = PilotDetector()
    for t in (0.0, 0.01):
        feed(detector, t, 9.0)
    feed(detector, 0.02, -12.0, duty=0.0)  # first reading after the mode change: dropped
    report = feed(detector, 0.03, -12.0, duty=0.0)
    assert report is not None and report.state is B
    report = feed(detector, 0.04, -12.0, duty=0.0)
    assert report is not None and report.state is F
    # Back to X1: one stale −12 V reading is dropped, then the EV shows again.
    report = feed(detector, 0.05, -12.0, duty=1.0)
    assert report is not None and report.state is F
    feed(detector, 0.06, 9.0)
    report = feed(detector, 0.07, 9.0)
    assert report is not None and report.state is B


def test_pilot_stuck_low_without_f_driven_is_invalid() -> None:
    detector = PilotDetector()
    for t in (0.0, 0.01):
        feed(detector, t, 9.0)
    for t in (0.02, 0.03):
        report = feed(detector, t, -12.0)
    assert report is not None and report.state is BAD
