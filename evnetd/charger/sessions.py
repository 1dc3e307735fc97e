"""Charging sessions on disk (SQLite WAL): nothing the user pays for is lost.

A session row is written when it starts, its meter reading is refreshed as energy flows,
and it is closed with an OCPP stop reason. After a crash or power loss the service finds
the open row and applies the rule of DESIGN.md §10.7 (resume if the EV is still there
and the register moved consistently, else close it as PowerLoss at the last stored
reading): ``open_session()`` is how it finds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from evnetd.runtime.storage import open_database

REFRESH_WH = 10.0  # write the running reading at least every 10 Wh...
REFRESH_S = 60.0  # ...or every minute

_MIGRATIONS = (
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        id_tag TEXT NOT NULL,
        started_at REAL NOT NULL,
        start_wh REAL NOT NULL,
        last_wh REAL NOT NULL,
        last_at REAL NOT NULL,
        stopped_at REAL,
        stop_reason TEXT,
        transaction_id INTEGER
    );
    CREATE INDEX sessions_open ON sessions (stopped_at)
    """,
    # 2: the OCPP reservation a session was started under (StartTransaction.reservationId)
    "ALTER TABLE sessions ADD COLUMN reservation_id INTEGER",
)


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    id_tag: str
    started_at: float  # wall clock (UNIX seconds): sessions are billed in real time
    start_wh: float
    last_wh: float
    last_at: float
    stopped_at: float | None = None
    stop_reason: str | None = None
    transaction_id: int | None = None
    reservation_id: int | None = None

    @property
    def energy_wh(self) -> float:
        return self.last_wh - self.start_wh


class SessionStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _MIGRATIONS)
        self._written: tuple[float, float] | None = None  # (wh, monotonic) of the last refresh

    def start(self, id_tag: str, register_wh: float, reservation_id: int | None = None) -> Session:
        now = time.time()
        cursor = self._db.execute(
            "INSERT INTO sessions (id_tag, started_at, start_wh, last_wh, last_at, reservation_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (id_tag, now, register_wh, register_wh, now, reservation_id),
        )
        self._written = (register_wh, time.monotonic())
        session_id = cursor.lastrowid
        assert session_id is not None
        return Session(session_id, id_tag, now, register_wh, register_wh, now, reservation_id=reservation_id)

    def refresh(self, session: Session, register_wh: float) -> Session:
        """Store the running reading when due (REFRESH_WH / REFRESH_S); returns the session."""
        if self._written is not None:
            wh, at = self._written
            if register_wh - wh < REFRESH_WH and time.monotonic() - at < REFRESH_S:
                return session
        return self.save_reading(session, register_wh)

    def save_reading(self, session: Session, register_wh: float) -> Session:
        now = time.time()
        reading = max(register_wh, session.last_wh)  # the register never goes backwards
        self._db.execute("UPDATE sessions SET last_wh = ?, last_at = ? WHERE id = ?", (reading, now, session.id))
        self._written = (reading, time.monotonic())
        return replace(session, last_wh=reading, last_at=now)

    def set_transaction_id(self, session: Session, transaction_id: int) -> Session:
        self._db.execute("UPDATE sessions SET transaction_id = ? WHERE id = ?", (transaction_id, session.id))
        return replace(session, transaction_id=transaction_id)

    def get(self, session_id: int) -> Session | None:
        """Any session, open or closed: OCPP may learn a transaction id after the stop
        (StartTransaction.conf arriving late from its offline queue)."""
        row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return Session(*row) if row else None

    def stop(self, session: Session, register_wh: float | None, reason: str) -> Session:
        """Close the session; ``register_wh`` None keeps the last stored reading (power loss)."""
        if register_wh is not None:
            session = self.save_reading(session, register_wh)
        now = time.time()
        self._db.execute(
            "UPDATE sessions SET stopped_at = ?, stop_reason = ? WHERE id = ? AND stopped_at IS NULL",
            (now, reason, session.id),
        )
        self._written = None
        return replace(session, stopped_at=now, stop_reason=reason)

    def open_session(self) -> Session | None:
        row = self._db.execute(
            "SELECT * FROM sessions WHERE stopped_at IS NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return Session(*row) if row else None

    def recent(self, limit: int = 20) -> list[Session]:
        rows = self._db.execute("SELECT * FROM sessions ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [Session(*row) for row in rows]

    def close(self) -> None:
        self._db.close()

