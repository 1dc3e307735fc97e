"""``org.evnet.Charger1``: connector status, limits, session; operator methods."""

from __future__ import annotations

from typing import Any, Protocol

from evnetd.bus.names import CHARGER
from evnetd.bus.service import PublishedInterface, bus_method, bus_signal

NAN = float("nan")
INITIAL: dict[str, Any] = {
    "Status": "Unavailable", "ErrorCode": "NoError", "ErrorInfo": "", "Pilot": "", "CableRating": 0,
    "OfferedCurrent": NAN, "SignalledCurrent": NAN, "LimitSource": "", "Limits": {}, "Duty": 1.0,
    "Locked": False, "ContactorClosed": False, "Available": True, "Session": {},
}  # fmt: skip


class ChargerActions(Protocol):
    def start_session(self, id_tag: str) -> None: ...

    def stop_session(self, reason: str = "Remote") -> None: ...

    async def present_token(self, id_tag: str) -> None: ...

    def set_limit(self, source: str, amps: float, expires_in_s: float) -> None: ...

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

    @bus_method("s")
    def StartSession(self, id_tag: str) -> None:
        """Remote/app start: authorises a session for ``id_tag`` (empty: "REMOTE")."""
        self.actions.start_session(id_tag)

    @bus_method()
    def StopSession(self) -> None:
        self.actions.stop_session()

    @bus_method("s")
    def StopSessionWithReason(self, reason: str) -> None:
        """Stop with an OCPP StopTransaction reason (Remote, Local, DeAuthorized, ...)."""
        self.actions.stop_session(reason)

    @bus_method("s")
    async def PresentToken(self, id_tag: str) -> None:
        """A token from the web client or an app: authorised and used like a card."""
        await self.actions.present_token(id_tag)

    @bus_method("s", "d", "d")
    def SetLimit(self, source: str, amps: float, expires_in_s: float) -> None:
        """A current limit from ``ocpp``, ``energy`` or ``remote``; expires_in_s ≤ 0: until changed."""
        self.actions.set_limit(source, amps, expires_in_s)

    @bus_method()
    def Unlock(self) -> None:
        self.actions.unlock()

    @bus_method("d")
    def SetUserLimit(self, amps: float) -> None:
        """The owner's maximum in whole amps (≥ 32 A removes it)."""
        self.actions.set_user_limit(amps)

    @bus_method("b")
    def SetAvailable(self, available: bool) -> None:
        """Operative (True) or inoperative; kept across restarts."""
        self.actions.set_available(available)

    @bus_method()
    def ClearFaults(self) -> None:
        self.actions.clear_faults()

    @bus_method("u", returns="aa{sv}")
    def Sessions(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` sessions, newest first."""
        return self.actions.sessions(limit)

    @bus_signal("usd")
    def SessionStarted(self, session_id: int, id_tag: str, start_wh: float) -> list[Any]:
        return [session_id, id_tag, start_wh]

    @bus_signal("usd")
    def SessionStopped(self, session_id: int, reason: str, energy_wh: float) -> list[Any]:
        return [session_id, reason, energy_wh]
