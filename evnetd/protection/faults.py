"""Fault names, their OCPP 1.6 error codes, and the events the protection core emits."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Fault(enum.Enum):
    """Conditions the metering/protection service detects.

    Values are the simulator's fault names where one exists (the simulator's ``rcd-ac``
    and ``rcd-dc`` both arrive as the RCD module's single fault input: ``rcd``). The value
    is also what goes into the OCPP StatusNotification ``info`` field.
    """

    RCD = "rcd"
    RCD_SELFTEST = "rcd-selftest"
    PEN = "pen"
    OVERVOLTAGE = "overvoltage"
    UNDERVOLTAGE = "undervoltage"
    OVERCURRENT = "overcurrent"
    OVERTEMP = "overtemp"
    TAMPER = "tamper"
    ADC_SILENT = "adc-silent"
    DERATING = "derating"
    """A warning, never in the active fault set: 72–78 °C derates instead of stopping."""

    @property
    def error_code(self) -> str:
        """The OCPP 1.6 ChargePointErrorCode for this fault (DESIGN.md §4)."""
        return _ERROR_CODES[self]


_ERROR_CODES: dict[Fault, str] = {
    Fault.RCD: "GroundFailure",
    Fault.RCD_SELFTEST: "GroundFailure",
    Fault.PEN: "GroundFailure",
    Fault.OVERVOLTAGE: "OverVoltage",
    Fault.UNDERVOLTAGE: "UnderVoltage",
    Fault.OVERCURRENT: "OverCurrentFailure",
    Fault.OVERTEMP: "HighTemperature",
    Fault.TAMPER: "OtherError",
    Fault.ADC_SILENT: "PowerMeterFailure",
    Fault.DERATING: "HighTemperature",
}

PRIORITY: tuple[Fault, ...] = (
    Fault.RCD,
    Fault.PEN,
    Fault.RCD_SELFTEST,
    Fault.OVERVOLTAGE,
    Fault.UNDERVOLTAGE,
    Fault.OVERCURRENT,
    Fault.OVERTEMP,
    Fault.ADC_SILENT,
    Fault.TAMPER,
)
"""Which fault's error code a single status field shows when several are active."""


class EventKind(enum.Enum):
    RAISED = "raised"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class ProtectionEvent:
    """One fault (or warning) being raised or cleared, ready for the journal and OCPP."""

    t: float
    """Monotonic time the core decided it."""
    kind: EventKind
    fault: Fault
    error_code: str
    """OCPP 1.6 ChargePointErrorCode."""
    message: str
    """Journal text: what was measured, against which limit, what happens now."""
    value: float | None
    """The measured value behind the decision (V, A, °C, s), None for switch inputs."""
    warning: bool = False
    """True for derating: the connector stays in service."""
