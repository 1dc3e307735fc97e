"""Control-pilot state detection from the CP peak voltages (IEC 61851-1 Annex A).

The board's CP stage gives two numbers per PWM period, already scaled back to the ±12 V
pilot domain: the positive peak (the high half, loaded by the EV's resistors) and the
negative peak (the low half, which only the EV's diode keeps at −12 V). The state comes
from the positive peak; the negative peak only tells whether the diode is there.

The voltage bands and their hysteresis are chargebyte's (``utils/cp/CPUtils.cpp``, "mostly
based on IEC 61851-1 Table A.4", the closest public proxy for the table itself): a reading
in the overlap between two bands keeps the state we already report, so a pilot sitting on a
band edge does not flicker. Like chargebyte's Tarragon driver, a new state is reported only
after two consecutive readings agree, which suppresses single-reading glitches while still
seeing the 200–400 ms C pulses of ISO 15118-3 toggling.

State F is the EVSE's own output (0 % duty, steady −12 V): it is reported only while the
generator drives 0 %. A −12 V reading while we drive anything else means the pilot is
pulled down by something that is not an EV, and is reported as INVALID.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PilotState(enum.Enum):
    """What the EVSE sees on the pilot (the x1/x2 suffix is our own duty, not detected)."""

    A = "A"  # no EV
    B = "B"  # EV connected, not requesting energy
    C = "C"  # EV requests energy
    D = "D"  # EV requests energy with ventilation
    E = "E"  # CP shorted to PE (or EVSE unpowered)
    F = "F"  # the EVSE drives −12 V (not available / fault)
    INVALID = "invalid"  # outside every band: a pilot fault


class Diode(enum.Enum):
    """Result of the diode check on the negative half of the pilot."""

    UNKNOWN = "unknown"  # no PWM running, or no EV: the check cannot be made
    PRESENT = "present"
    MISSING = "missing"  # negative half collapsed: diode missing/shorted or a wet plug


class GeneratorMode(enum.Enum):
    """What the CP generator drives, derived from the duty we set."""

    F = "F"  # 0 %: steady −12 V
    X1 = "X1"  # 100 %: steady +12 V, no current offered
    PWM = "PWM"  # 1 kHz PWM: current offered

    @classmethod
    def of(cls, duty: float) -> GeneratorMode:
        if duty <= 0.0:
            return cls.F
        if duty >= 1.0:
            return cls.X1
        return cls.PWM


# Band edges in volts (chargebyte CPUtils.cpp); a reading equal to a lower edge belongs to
# the band above it.
A_MAX_V = 13.0
A_MIN_V = 11.0
A_HYST_MIN_V = 10.0  # 10–11 V: A if A already, else B
B_MIN_V = 8.0
B_HYST_MIN_V = 7.0  # 7–8 V: B if A/B already, else C
C_MIN_V = 5.0
C_HYST_MIN_V = 4.0  # 4–5 V: C if A/B/C already, else D
D_MIN_V = 2.0
E_MIN_V = -1.0
E_HYST_MIN_V = -2.0  # −2…−1 V: E if A–E already, else invalid
F_HYST_MAX_V = -10.0  # −11…−10 V: F if F already, else invalid
F_MAX_V = -11.0
F_MIN_V = -13.0

# With PWM running and an EV present, a negative peak above this means the diode is not
# doing its job (Tinkerforge evse-v2 uses the same −10 V limit; a missing diode leaves the
# low half at minus the high level, −9/−6/−3 V, far above it).
DIODE_NEGATIVE_MAX_V = -10.0

_CONNECTED = (PilotState.B, PilotState.C, PilotState.D)


def classify(positive_v: float, previous: PilotState | None, mode: GeneratorMode) -> PilotState:
    """The state one positive-peak reading shows, given the state reported so far.

    ``previous`` is None before any state was confirmed (no hysteresis then: a reading in
    an overlap goes to the lower band, as chargebyte's default branches do).
    """
    if mode is GeneratorMode.F:
        # We drive −12 V: an EV cannot lift the high half; only a short can (to 0 V).
        if F_MIN_V <= positive_v < F_MAX_V:
            return PilotState.F
        if F_MAX_V <= positive_v < F_HYST_MAX_V and previous is PilotState.F:
            return PilotState.F
        if E_MIN_V <= positive_v < D_MIN_V:
            return PilotState.E
        return PilotState.INVALID
    if positive_v > A_MAX_V:
        return PilotState.INVALID
    if positive_v >= A_MIN_V:
        return PilotState.A
    if positive_v >= A_HYST_MIN_V:
        return PilotState.A if previous is PilotState.A else PilotState.B
    if positive_v >= B_MIN_V:
        return PilotState.B
    if positive_v >= B_HYST_MIN_V:
        return PilotState.B if previous in (PilotState.A, PilotState.B) else PilotState.C
    if positive_v >= C_MIN_V:
        return PilotState.C
    if positive_v >= C_HYST_MIN_V:
        below_d = (PilotState.A, PilotState.B, PilotState.C)
        return PilotState.C if previous in below_d else PilotState.D
    if positive_v >= D_MIN_V:
        return PilotState.D
    if positive_v >= E_MIN_V:
        return PilotState.E
    if positive_v >= E_HYST_MIN_V:
        not_f = (PilotState.A, PilotState.B, PilotState.C, PilotState.D, PilotState.E)
        return PilotState.E if previous in not_f else PilotState.INVALID
    # Below −2 V with PWM or X1 driven: the generator is not pulling low, something else is.
    return PilotState.INVALID


def check_diode(state: PilotState, negative_v: float, mode: GeneratorMode) -> Diode:
    """The diode check for one reading: only possible with PWM running and an EV present."""
    if mode is not GeneratorMode.PWM or state not in _CONNECTED:
        return Diode.UNKNOWN
    return Diode.MISSING if negative_v > DIODE_NEGATIVE_MAX_V else Diode.PRESENT


@dataclass(frozen=True, slots=True)
class PilotReading:
    """One pair of CP peaks and the duty the generator drove while they were taken."""

    positive_v: float
    negative_v: float
    duty: float  # fraction 0.0–1.0


@dataclass(frozen=True, slots=True)
class PilotReport:
    """The confirmed pilot state and diode result; ``since`` is when the state was confirmed."""

    state: PilotState
    diode: Diode
    since: float


class PilotDetector:
    """Turns a stream of readings into confirmed states (two consistent readings).

    The first reading after the generator changes mode (F, X1, PWM) is dropped: the peak
    detectors may still hold a level from the previous mode, and such a reading must not
    count toward a confirmation (a −12 V left over from state F would otherwise read as a
    pilot fault once X1 is back).
    """

    def __init__(self) -> None:
        self._mode: GeneratorMode | None = None
        self._state: PilotState | None = None
        self._since = 0.0
        self._pending_state: PilotState | None = None
        self._diode = Diode.UNKNOWN
        self._pending_diode: Diode | None = None

    def feed(self, reading: PilotReading, now: float) -> PilotReport | None:
        """Take one reading; None until a first state has been confirmed."""
        mode = GeneratorMode.of(reading.duty)
        mode_changed = self._mode is not None and mode is not self._mode
        self._mode = mode
        if not mode_changed:
            state = classify(reading.positive_v, self._state, mode)
            if state is self._pending_state and state is not self._state:
                self._state, self._since = state, now
            self._pending_state = state
            diode = check_diode(state, reading.negative_v, mode)
            if diode is self._pending_diode:
                self._diode = diode
            self._pending_diode = diode
        if self._state is None:
            return None
        return PilotReport(self._state, self._diode, self._since)
