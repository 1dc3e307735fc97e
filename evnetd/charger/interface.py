"""``org.evnet.Charger1``: connector status, limits, session; operator methods."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from dbus_fast.annotations import DBusBool, DBusDouble, DBusSignature, DBusStr
from dbus_fast.service import method, signal

from evnetd.bus.names import CHARGER
from evnetd.bus.service import NoResult, PublishedInterface

SessionList = Annotated[list[dict[str, Any]], DBusSignature("aa{sv}")]
SessionSignal = Annotated[list[Any], DBusSignature("usd")]

NAN = float("nan")
INITIAL: dict[str, Any] = {
    "Status": "Unavailable", "ErrorCode": "NoError", "ErrorInfo": "", "Pilot": "", "CableRating": 0,
    "OfferedCurrent": NAN, "SignalledCurrent": NAN, "LimitSource": "", "Limits": {}, "Duty": 1.0,
    "Locked": False, "ContactorClosed": False, "Available": True, "Session": {},
}  # fmt: skip


class ChargerActions(Protocol):
    def start_session(self, id_tag: str) -> None: ...

    def stop_session(self) -> None: ...

    def unlock(self) -> None: ...

    def set_user_limit(self, amps: float) -> None: ...

    def set_available(self, available: bool) -> None: ...

    def clear_faults(self) -> None: ...

    def sessions(self, limit: int) -> list[dict[str, Any]]: ...


class ChargerInterface(PublishedInterface):
    """``Session`` is empty when there is none; NaN currents mean nothing is offered."""

    PROPERTIES = {
        "Status": "s", "ErrorCode": "s", "ErrorInfo": "s", "Pilot": "s", "CableRating": "u",
        "OfferedCurrent": "d", "SignalledCurrent": "d", "LimitSource": "s", "Limits": "a{sd}", "Duty": "d",
        "Locked": "b", "ContactorClosed": "b", "Available": "b", "Session": "a{sv}",
    }  # fmt: skip

    def __init__(self, actions: ChargerActions) -> None:
        self.actions = actions
        super().__init__(CHARGER.interface, INITIAL)

    @method()
    def StartSession(self, id_tag: DBusStr) -> NoResult:
        """Remote/app start: authorises a session for ``id_tag`` (empty: "REMOTE")."""
        self.actions.start_session(id_tag)

    @method()
    def StopSession(self) -> NoResult:
        self.actions.stop_session()

    @method()
    def Unlock(self) -> NoResult:
        self.actions.unlock()

    @method()
    def SetUserLimit(self, amps: DBusDouble) -> NoResult:
        """The owner's maximum in whole amps (≥ 32 A removes it)."""
        self.actions.set_user_limit(amps)

    @method()
    def SetAvailable(self, available: DBusBool) -> NoResult:
        """Operative (True) or inoperative; kept across restarts."""
        self.actions.set_available(available)

    @method()
    def ClearFaults(self) -> NoResult:
        self.actions.clear_faults()

    @method()
    def Sessions(self, limit: Annotated[int, DBusSignature("u")]) -> SessionList:
        """The newest ``limit`` sessions, newest first."""
        return self.actions.sessions(limit)

    @signal()
    def SessionStarted(self, session_id: int, id_tag: str, start_wh: float) -> SessionSignal:
        return [session_id, id_tag, start_wh]

    @signal()
    def SessionStopped(self, session_id: int, reason: str, energy_wh: float) -> SessionSignal:
        return [session_id, reason, energy_wh]
