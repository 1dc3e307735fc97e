"""The connector's status vocabulary: OCPP 1.6 ChargePointStatus and ChargePointErrorCode.

The charge-control core speaks OCPP's words directly because they are what every consumer
(OCPP uplink, LED ring, `evnetctl status`, the web client) needs; the values are the exact
OCPP-J strings. Reserved is not here: reservations belong to the service, which overlays
it on Available.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ConnectorStatus(enum.Enum):
    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class ErrorCode(enum.Enum):
    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure"
    EV_COMMUNICATION_ERROR = "EVCommunicationError"
    GROUND_FAILURE = "GroundFailure"
    HIGH_TEMPERATURE = "HighTemperature"
    INTERNAL_ERROR = "InternalError"
    LOCAL_LIST_CONFLICT = "LocalListConflict"
    NO_ERROR = "NoError"
    OTHER_ERROR = "OtherError"
    OVER_CURRENT_FAILURE = "OverCurrentFailure"
    OVER_VOLTAGE = "OverVoltage"
    POWER_METER_FAILURE = "PowerMeterFailure"
    POWER_SWITCH_FAILURE = "PowerSwitchFailure"
    READER_FAILURE = "ReaderFailure"
    RESET_FAILURE = "ResetFailure"
    UNDER_VOLTAGE = "UnderVoltage"
    WEAK_SIGNAL = "WeakSignal"


@dataclass(frozen=True, slots=True)
class Fault:
    """An error code with OCPP's free-text ``info`` (the simulator's fault name, if any)."""

    code: ErrorCode
    info: str = ""


NO_FAULT = Fault(ErrorCode.NO_ERROR)
