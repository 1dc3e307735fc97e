"""``org.evnet.Charger1``: connector status, limits, session; operator methods."""

from __future__ import annotations

from typing import Any, Protocol

from dbus_fast import Variant

from evnetd.bus.names import CHARGER
from evnetd.bus.service import PublishedInterface, bus_method, bus_signal

NAN = float("nan")
INITIAL: dict[str, Any] = {
    "Status": "Unavailable", "ErrorCode": "NoError", "ErrorInfo": "", "Pilot": "", "CableRating": 0,
    "OfferedCurrent": NAN, "SignalledCurrent": NAN, "LimitSource": "", "Limits": {}, "Duty": 1.0,
    "Locked": False, "ContactorClosed": False, "Available": True, "Session": {}, "Reservation": {},
    "Settings": {}, "Tokens": [], "Learning": False,
}  # fmt: skip


class ChargerActions(Protocol):
    def start_session(self, id_tag: str) -> None: ...

    def stop_session(self, reason: str = "Remote") -> None: ...

    async def present_token(self, id_tag: str) -> None: ...

    def set_limit(self, source: str, amps: float, expires_in_s: float) -> None: ...

    def clear_limit(self, source: str) -> None: ...

    def unlock(self) -> None: ...

    def set_user_limit(self, amps: float) -> None: ...

    def set_available(self, available: bool) -> None: ...

    def clear_faults(self) -> None: ...

    def sessions(self, limit: int) -> list[dict[str, Any]]: ...

    def set_transaction_id(self, session_id: int, transaction_id: int) -> None: ...

    def reserve(self, reservation_id: int, id_tag: str, parent_id_tag: str, expiry_unix: float) -> str: ...

    def cancel_reservation(self, reservation_id: int) -> bool: ...

    def set_connection_timeout(self, seconds: int) -> None: ...

    def change_settings(self, changes: dict[str, tuple[str, Any]]) -> None: ...

    def add_token(self, uid: str, label: str) -> None: ...

    def remove_token(self, uid: str) -> None: ...

    def learn_token(self, timeout_s: float) -> None: ...

    def faults(self, limit: int) -> list[dict[str, Any]]: ...


class ChargerInterface(PublishedInterface):
    """``Session`` and ``Reservation`` are empty when there is none; NaN currents mean
    nothing is offered. Ids that OCPP may leave unset (transaction, reservation) are -1
    when unset: D-Bus has no null. ``Settings`` are the owner's (user_max_a, auth_mode,
    offline_charge, keep_awake, led_brightness, station_name); ``Tokens`` the card list as
    (UID in upper-case hex, label); ``Learning`` is true while the next card is to be learned."""

    PROPERTIES = {
        "Status": "s", "ErrorCode": "s", "ErrorInfo": "s", "Pilot": "s", "CableRating": "u",
        "OfferedCurrent": "d", "SignalledCurrent": "d", "LimitSource": "s", "Limits": "a{sd}", "Duty": "d",
        "Locked": "b", "ContactorClosed": "b", "Available": "b", "Session": "a{sv}", "Reservation": "a{sv}",
        "Settings": "a{sv}", "Tokens": "a(ss)", "Learning": "b",
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
        """Stop with an OCPP StopTransaction reason a caller may give: Remote, Local,
        HardReset, SoftReset, Reboot, EmergencyStop, DeAuthorized, Other."""
        self.actions.stop_session(reason)

    @bus_method("s")
    async def PresentToken(self, id_tag: str) -> None:
        """A token from the web client or an app: authorised and used like a card."""
        await self.actions.present_token(id_tag)

    @bus_method("s", "d", "d")
    def SetLimit(self, source: str, amps: float, expires_in_s: float) -> None:
        """A current limit from ``ocpp``, ``energy`` or ``remote``; expires_in_s ≤ 0: until changed."""
        self.actions.set_limit(source, amps, expires_in_s)

    @bus_method("s")
    def ClearLimit(self, source: str) -> None:
        """Remove the limit of ``ocpp``, ``energy`` or ``remote`` (no-op when it has none)."""
        self.actions.clear_limit(source)

    @bus_method()
    def Unlock(self) -> None:
        self.actions.unlock()

    @bus_method("d")
    def SetUserLimit(self, amps: float) -> None:
        """The owner's maximum, 6–32 in whole amps (above 32 A: 32, no user limit); the
        ``user_max_a`` setting."""
        self.actions.set_user_limit(amps)

    @bus_method("a{sv}")
    def ChangeSettings(self, changes: dict[str, Variant]) -> None:
        """Change some of ``Settings``, all or none: an unknown name, a wrong type or value is
        InvalidArgument "<field>: <value!r>: <rule>". Kept across restarts."""
        self.actions.change_settings({name: (value.signature, value.value) for name, value in changes.items()})

    @bus_method("s", "s")
    def AddToken(self, uid: str, label: str) -> None:
        """Add a card (4, 7 or 10 bytes in hex, any case, ':' '-' ' ' allowed) or relabel a known one."""
        self.actions.add_token(uid, label)

    @bus_method("s")
    def RemoveToken(self, uid: str) -> None:
        """InvalidArgument for a card not in the list."""
        self.actions.remove_token(uid)

    @bus_method("d")
    def LearnToken(self, timeout_s: float) -> None:
        """For up to ``timeout_s`` (≤ 600 s; 0 stops), the next card presented is added to
        ``Tokens`` instead of being authorised; then TokenLearned."""
        self.actions.learn_token(timeout_s)

    @bus_method("u", returns="aa{sv}")
    def Faults(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` faults, newest first: fault, error_code (OCPP), info, raised_at,
        cleared_at (UNIX s; 0 while active), source (meter or charger)."""
        return self.actions.faults(limit)

    @bus_method("b")
    def SetAvailable(self, available: bool) -> None:
        """Operative (True) or inoperative; kept across restarts."""
        self.actions.set_available(available)

    @bus_method()
    def ClearFaults(self) -> None:
        self.actions.clear_faults()

    @bus_method("u", returns="aa{sv}")
    def Sessions(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` sessions, newest first: id, id_tag, started_at, start_wh,
        last_wh (the last stored reading; a stopped session's meter stop), energy_wh,
        stopped_at (NaN while open), stop_reason, transaction_id, reservation_id."""
        return self.actions.sessions(limit)

    @bus_method("u", "i")
    def SetTransactionId(self, session_id: int, transaction_id: int) -> None:
        """The CSMS's transaction id for a session (open or already stopped)."""
        self.actions.set_transaction_id(session_id, transaction_id)

    @bus_method("i", "s", "s", "d", returns="s")
    def Reserve(self, reservation_id: int, id_tag: str, parent_id_tag: str, expiry_unix: float) -> str:
        """OCPP ReserveNow: Accepted, Faulted, Occupied, Unavailable or Rejected."""
        return self.actions.reserve(reservation_id, id_tag, parent_id_tag, expiry_unix)

    @bus_method("i", returns="b")
    def CancelReservation(self, reservation_id: int) -> bool:
        """OCPP CancelReservation: False for an unknown id (nothing changed)."""
        return self.actions.cancel_reservation(reservation_id)

    @bus_method("u")
    def SetConnectionTimeout(self, seconds: int) -> None:
        """OCPP ConnectionTimeOut: how long an authorisation waits for the plug."""
        self.actions.set_connection_timeout(seconds)

    @bus_signal("usd")
    def SessionStarted(self, session_id: int, id_tag: str, start_wh: float) -> list[Any]:
        return [session_id, id_tag, start_wh]

    @bus_signal("usd")
    def SessionStopped(self, session_id: int, reason: str, energy_wh: float) -> list[Any]:
        return [session_id, reason, energy_wh]

    @bus_signal("s")
    def TokenLearned(self, uid: str) -> str:
        """A card was learned (added to ``Tokens``, or already there); learning ended."""
        return uid

    @bus_signal("is")
    def ReservationEnded(self, reservation_id: int, reason: str) -> list[Any]:
        """Expired, Cancelled or Used (a session started under it)."""
        return [reservation_id, reason]
