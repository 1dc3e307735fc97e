"""OCPP 1.6 reservations of the one connector (ReserveNow / CancelReservation).

A reservation keeps the connector for one id tag until its expiry: while it holds and the
connector is idle the status is Reserved, and only the reserved tag, or a tag the CSMS
reported with the same (non-empty) parent id tag, may start a session (OCTT TC_046,
TC_053). The session that starts under it records its id and consumes it; at the expiry
it ends by itself (TC_047). Sending the same reservation id again replaces it (OCPP 1.6
§5.13); a different id while one holds is answered Occupied.

Pure: the expiry is an absolute wall-clock time (OCPP's expiryDate), so the owner feeds
``now`` as UNIX seconds, not the monotonic clock the control loop uses.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import asdict, dataclass

from evnetd.charger.authorization import normalise_tag


class ReserveStatus(enum.Enum):
    """ReserveNow.conf status values (the exact OCPP strings)."""

    ACCEPTED = "Accepted"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"
    UNAVAILABLE = "Unavailable"
    REJECTED = "Rejected"


class EndReason(enum.Enum):
    """Why a reservation ended (the ``ReservationEnded`` signal's reason)."""

    EXPIRED = "Expired"
    CANCELLED = "Cancelled"
    USED = "Used"


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: int
    id_tag: str
    parent_id_tag: str  # "" when none
    expiry: float  # UNIX seconds

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Reservation:
        data = json.loads(text)
        return cls(int(data["reservation_id"]), str(data["id_tag"]), str(data["parent_id_tag"]),
                   float(data["expiry"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConnectorState:
    """What ReserveNow's answer depends on, as the service sees it at the call."""

    faulted: bool
    available: bool  # operative
    occupied: bool  # EV connected, a session running or an authorisation waiting for the plug


class ReservationBook:
    """The reservation of the connector (at most one)."""

    def __init__(self, current: Reservation | None = None) -> None:
        self.current = current

    def reserve(self, request: Reservation, connector: ConnectorState, now: float) -> ReserveStatus:
        """Answer a ReserveNow; on Accepted the request is now the reservation."""
        if not math.isfinite(request.expiry) or request.expiry <= now:
            return ReserveStatus.REJECTED  # nothing to keep: it would be over already
        if connector.faulted:
            return ReserveStatus.FAULTED
        if not connector.available:
            return ReserveStatus.UNAVAILABLE
        held = self.current
        if connector.occupied or (held is not None and held.reservation_id != request.reservation_id):
            return ReserveStatus.OCCUPIED
        self.current = Reservation(
            request.reservation_id, normalise_tag(request.id_tag), normalise_tag(request.parent_id_tag),
            request.expiry,
        )  # fmt: skip
        return ReserveStatus.ACCEPTED

    def cancel(self, reservation_id: int) -> Reservation | None:
        """CancelReservation: the cancelled reservation, None for an unknown id (kept as is)."""
        held = self.current
        if held is None or held.reservation_id != reservation_id:
            return None
        self.current = None
        return held

    def admits(self, id_tag: str, parent_id_tag: str = "") -> bool:
        """Whether this tag may start a session now (always, with no reservation)."""
        held = self.current
        if held is None:
            return True
        if normalise_tag(id_tag) == held.id_tag:
            return True
        parent = normalise_tag(parent_id_tag)
        return bool(parent) and parent == held.parent_id_tag

    def use(self, id_tag: str, parent_id_tag: str = "") -> Reservation | None:
        """A session starts for this tag: the reservation it consumes, if any."""
        held = self.current
        if held is None or not self.admits(id_tag, parent_id_tag):
            return None
        self.current = None
        return held

    def expire(self, now: float) -> Reservation | None:
        """The reservation that ended at ``now`` by its expiry, if any."""
        held = self.current
        if held is None or now < held.expiry:
            return None
        self.current = None
        return held
