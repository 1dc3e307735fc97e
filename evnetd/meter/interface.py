"""``org.evnet.Meter1``: measurements at 1 Hz (site load rises at once), faults as they happen, a few methods."""

from __future__ import annotations

from typing import Any, Protocol

from evnetd.bus.names import METER
from evnetd.bus.service import PublishedInterface, bus_method, bus_signal

NAN = float("nan")
INITIAL: dict[str, Any] = {
    "Voltage": NAN, "Current": NAN, "Power": NAN, "ApparentPower": NAN, "PowerFactor": NAN,
    "Frequency": NAN, "NpeVoltage": NAN, "LoadVoltage": NAN, "SiteCurrent": NAN, "SitePower": NAN,
    "SiteActiveCurrent": NAN, "EvActiveCurrent": NAN,
    "EnergyWh": NAN, "Temperature": NAN, "Permit": False, "ActiveFaults": [], "ErrorCode": "NoError",
    "DeratingLimit": NAN, "RcdSelfTest": "pending", "SelfChecksOk": False, "Sequence": 0, "LoadLive": False,
}  # fmt: skip


class MeterActions(Protocol):
    """What the interface's methods do; implemented by the service."""

    def self_test_rcd(self) -> None: ...

    def clear_faults(self) -> tuple[list[str], list[str]]: ...

    def calibration(self) -> dict[str, tuple[float, str]]: ...

    def hold_permit(self, reason: str) -> None: ...


class MeterInterface(PublishedInterface):
    """Unknown values are NaN (no measurement yet); ``Sequence`` counts the 1 Hz updates
    so a client can tell a live meter from a silent one even when nothing changes.
    ``LoadLive`` (voltage after the contactor) is published the cycle it changes, not at
    1 Hz: weld detection must not judge an open contactor by a stale average.
    ``SitePower`` and ``SiteActiveCurrent`` (signed: import > 0, export < 0) come at 1 Hz
    and also at once when the site current rises by 1 A or more, at most every 100 ms
    (``evnetd.metering.sitereport``): energy management must see a house load step
    within a few cycles."""

    PROPERTIES = {
        "Voltage": "d", "Current": "d", "Power": "d", "ApparentPower": "d", "PowerFactor": "d",
        "Frequency": "d", "NpeVoltage": "d", "LoadVoltage": "d", "SiteCurrent": "d", "SitePower": "d",
        "SiteActiveCurrent": "d", "EvActiveCurrent": "d", "EnergyWh": "d",
        "Temperature": "d", "Permit": "b", "ActiveFaults": "as", "ErrorCode": "s", "DeratingLimit": "d",
        "RcdSelfTest": "s", "SelfChecksOk": "b", "Sequence": "u", "LoadLive": "b",
    }  # fmt: skip

    def __init__(self, actions: MeterActions) -> None:
        self.actions = actions
        super().__init__(METER.interface, INITIAL)

    @bus_method()
    def SelfTestRcd(self) -> None:
        """Start an RCD self-test (PERMIT low while it runs); the result shows in RcdSelfTest.

        Returns at once, once RcdSelfTest has changed to ``running`` (or ``pending`` while
        the RCD input is active): the next ``passed``/``failed`` is this test's outcome."""
        self.actions.self_test_rcd()

    @bus_method(returns="asas")
    def ClearFaults(self) -> list[list[str]]:
        """Clear latched faults whose cause is gone: (cleared, refused with reasons)."""
        cleared, refused = self.actions.clear_faults()
        return [cleared, refused]

    @bus_method(returns="a{s(ds)}")
    def GetCalibration(self) -> dict[str, list[Any]]:
        """Every calibration value by its config name, with where it came from:
        ``config``, ``eeprom`` or ``default``."""
        return {name: [value, source] for name, (value, source) in self.actions.calibration().items()}

    @bus_method("s")
    def HoldPermit(self, reason: str) -> None:
        """Keep PERMIT low until an operator clears it (the charger's welded-contactor request)."""
        self.actions.hold_permit(reason)

    @bus_signal("sssd")
    def FaultRaised(self, fault: str, error_code: str, message: str, value: float) -> list[Any]:
        return [fault, error_code, message, value]

    @bus_signal("sssd")
    def FaultCleared(self, fault: str, error_code: str, message: str, value: float) -> list[Any]:
        return [fault, error_code, message, value]

