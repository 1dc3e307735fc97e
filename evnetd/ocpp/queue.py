"""The durable queue of transaction-related messages: what the user pays for reaches the CSMS.

OCPP 1.6 §3.7 wants StartTransaction, StopTransaction and the transaction MeterValues
delivered in order even across connection loss, and the charger is killed with kill -9
at any point. So every message is committed to SQLite (WAL, synchronous=FULL: durable
when the call returns) before anyone tries to send it, and deleted only after its
response arrived. A kill between send and response re-sends it; the CSMS must tolerate
that duplicate, while a lost StopTransaction would be lost money.

The queue also remembers, per charger session, whether its Start and Stop were queued
(in the same SQLite transaction as the push, so a kill cannot duplicate or lose one)
and the transactionId the CSMS gave it. Messages queued before StartTransaction.conf
carry ``transaction_id = None`` and are patched when the id arrives (libocpp #495/#551);
if the StartTransaction was given up, they go out with -1 (errata 3.18).

Retry timing is decided here from the caller's ``now`` (UNIX seconds); sending is the
caller's job. Waits do not survive a restart: the reboot took longer than any retry
wait and the clock may have been stepped, so after opening every message is due.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evnetd.runtime.storage import open_database

START = "StartTransaction"
STOP = "StopTransaction"
METER_VALUES = "MeterValues"
MAX_MESSAGES = 50_000  # beyond this, the oldest queued MeterValues are dropped (never Start/Stop)
UNKNOWN_TRANSACTION_ID = -1  # errata 3.18: StartTransaction never acknowledged

_MIGRATIONS = (
    """
    CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL,
        session_key TEXT
    );
    CREATE INDEX messages_session ON messages (session_key);
    CREATE TABLE sessions (
        session_key TEXT PRIMARY KEY,
        start_queued INTEGER NOT NULL DEFAULT 0,
        stop_queued INTEGER NOT NULL DEFAULT 0,
        transaction_id INTEGER NULL,
        id_tag TEXT,
        parent_id_tag TEXT,
        start_dropped INTEGER NOT NULL DEFAULT 0
    )
    """,
)

_MESSAGE_COLUMNS = "seq, action, payload, attempts, not_before, session_key"
_SESSION_COLUMNS = "session_key, start_queued, stop_queued, transaction_id, id_tag, parent_id_tag, start_dropped"


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    seq: int  # order of enqueueing (SQLite rowid), the delivery order
    action: str
    payload: dict[str, Any]  # snake_case kwargs for ocpp.v16.call.<action>(**payload)
    attempts: int  # sends so far (each one reported to failed())
    not_before: float  # earliest time of the next attempt (UNIX seconds)
    session_key: str | None  # the charger's session id as text, or None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_key: str
    start_queued: bool
    stop_queued: bool
    transaction_id: int | None  # from StartTransaction.conf; None while unknown
    id_tag: str | None
    parent_id_tag: str | None
    start_dropped: bool  # StartTransaction given up after TransactionMessageAttempts


class MessageQueue:
    def __init__(self, path: Path, max_messages: int = MAX_MESSAGES) -> None:
        self._db = open_database(path, _MIGRATIONS)
        self._max_messages = max_messages
        self._db.execute("UPDATE messages SET not_before = 0")

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        count: int = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        return count

    # -- queueing ---------------------------------------------------------------------------

    def push(
        self, action: str, payload: dict[str, Any], session_key: str | None = None, now: float | None = None
    ) -> QueuedMessage:
        """Queue a message behind all others; committed (durable) before it returns.

        A ``transaction_id`` of None in the payload is filled in at once if the session's
        id is already known, else when ``bind_transaction`` learns it.
        """
        with self._transaction():
            return self._insert(action, payload, session_key, now)

    def push_start(self, session_key: str, payload: dict[str, Any], now: float | None = None) -> QueuedMessage | None:
        """Queue the session's StartTransaction unless it was queued before (then None)."""
        with self._transaction():
            record = self._session(session_key)
            if record is not None and record.start_queued:
                return None
            self._db.execute(
                "INSERT INTO sessions (session_key, start_queued, id_tag) VALUES (?, 1, ?)"
                " ON CONFLICT (session_key) DO UPDATE SET start_queued = 1, id_tag = excluded.id_tag",
                (session_key, payload.get("id_tag")),
            )
            return self._insert(START, payload, session_key, now)

    def push_stop(self, session_key: str, payload: dict[str, Any], now: float | None = None) -> QueuedMessage | None:
        """Queue the session's StopTransaction unless it was queued before (then None).

        Raises ValueError if its StartTransaction was never queued: Stop must follow Start.
        """
        with self._transaction():
            record = self._session(session_key)
            if record is None or not record.start_queued:
                raise ValueError(f"session {session_key}: StopTransaction before StartTransaction")
            if record.stop_queued:
                return None
            self._db.execute("UPDATE sessions SET stop_queued = 1 WHERE session_key = ?", (session_key,))
            return self._insert(STOP, payload, session_key, now)

    # -- delivery ---------------------------------------------------------------------------

    def head(self) -> QueuedMessage | None:
        """The oldest message: the only one to send; newer ones wait behind it."""
        messages = self.peek_many(1)
        return messages[0] if messages else None

    def peek_many(self, n: int) -> list[QueuedMessage]:
        """The ``n`` oldest messages in delivery order."""
        rows = self._db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages ORDER BY seq LIMIT ?", (n,))
        return [_message(row) for row in rows]

    def delivered(self, seq: int) -> None:
        """The response arrived: forget the message."""
        self._db.execute("DELETE FROM messages WHERE seq = ?", (seq,))

    def delivered_start(self, seq: int, transaction_id: int, parent_id_tag: str | None = None) -> None:
        """StartTransaction.conf arrived: bind its transaction id and forget it, atomically."""
        with self._transaction():
            row = self._db.execute("SELECT session_key FROM messages WHERE seq = ?", (seq,)).fetchone()
            if row is not None and row[0] is not None:
                self._bind(row[0], transaction_id)
                if parent_id_tag is not None:
                    self._set_parent(row[0], parent_id_tag)
            self._db.execute("DELETE FROM messages WHERE seq = ?", (seq,))

    def failed(self, seq: int, now: float, max_attempts: int, retry_interval_s: float) -> bool:
        """A CALLERROR or a timeout. True if it will be retried, False if dropped.

        At most ``max_attempts`` sends in all (TransactionMessageAttempts, at least 1); the
        next one waits ``retry_interval_s`` × the sends so far (§3.7.1). A dropped
        StartTransaction makes its session's later messages use transactionId -1.
        """
        with self._transaction():
            row = self._db.execute(
                "SELECT action, attempts, session_key FROM messages WHERE seq = ?", (seq,)
            ).fetchone()
            if row is None:
                return False
            action, attempts, session_key = row[0], row[1] + 1, row[2]
            if attempts < max(max_attempts, 1):
                self._db.execute(
                    "UPDATE messages SET attempts = ?, not_before = ? WHERE seq = ?",
                    (attempts, now + retry_interval_s * attempts, seq),
                )
                return True
            self._db.execute("DELETE FROM messages WHERE seq = ?", (seq,))
            if action == START and session_key is not None:
                self._mark_start_dropped(session_key)
            return False

    # -- transaction ids --------------------------------------------------------------------

    def bind_transaction(self, session_key: str, transaction_id: int) -> None:
        """Remember the session's transaction id and patch it into its queued messages."""
        with self._transaction():
            self._bind(session_key, transaction_id)

    def transaction_id(self, session_key: str) -> int | None:
        record = self._session(session_key)
        return None if record is None else record.transaction_id

    def start_dropped(self, session_key: str) -> None:
        """StartTransaction given up: the session's later messages use transactionId -1."""
        with self._transaction():
            self._mark_start_dropped(session_key)

    def unbound_payload(self, message: QueuedMessage) -> dict[str, Any]:
        """The payload to send now, with the session's transaction id resolved.

        Still unknown once the session's StartTransaction has left the queue means that
        Start was given up (a conf binds the id before the Start is deleted): use -1.
        """
        payload = dict(message.payload)
        if message.session_key is None or "transaction_id" not in payload or payload["transaction_id"] is not None:
            return payload
        transaction_id = self.transaction_id(message.session_key)
        if transaction_id is None and not self._start_waiting(message.session_key):
            transaction_id = UNKNOWN_TRANSACTION_ID
        payload["transaction_id"] = transaction_id
        return payload

    # -- sessions ---------------------------------------------------------------------------

    def session_state(self, session_key: str) -> SessionRecord | None:
        return self._session(session_key)

    def sessions_seen(self) -> dict[str, SessionRecord]:
        """Every session the queue knows, for reconciling with the charger's session log."""
        rows = self._db.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions")
        return {row[0]: _session_record(row) for row in rows}

    def set_parent(self, session_key: str, parent_id_tag: str) -> None:
        with self._transaction():
            self._set_parent(session_key, parent_id_tag)

    # -- internals --------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _insert(
        self, action: str, payload: dict[str, Any], session_key: str | None, now: float | None
    ) -> QueuedMessage:
        payload = dict(payload)
        if session_key is not None and "transaction_id" in payload and payload["transaction_id"] is None:
            payload["transaction_id"] = self.transaction_id(session_key)
        not_before = time.time() if now is None else now
        cursor = self._db.execute(
            "INSERT INTO messages (action, payload, not_before, session_key) VALUES (?, ?, ?, ?)",
            (action, _encode(payload), not_before, session_key),
        )
        seq = cursor.lastrowid
        assert seq is not None
        self._drop_overflow()
        return QueuedMessage(seq, action, payload, 0, not_before, session_key)

    def _drop_overflow(self) -> None:
        """Over the limit, drop the oldest MeterValues behind the head; Start/Stop are never dropped."""
        excess = len(self) - self._max_messages
        if excess > 0:
            self._db.execute(
                "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE action = ?"
                " AND seq > (SELECT MIN(seq) FROM messages) ORDER BY seq LIMIT ?)",
                (METER_VALUES, excess),
            )

    def _bind(self, session_key: str, transaction_id: int) -> None:
        self._db.execute(
            "INSERT INTO sessions (session_key, transaction_id) VALUES (?, ?)"
            " ON CONFLICT (session_key) DO UPDATE SET transaction_id = excluded.transaction_id",
            (session_key, transaction_id),
        )
        rows = self._db.execute("SELECT seq, payload FROM messages WHERE session_key = ?", (session_key,)).fetchall()
        for seq, text in rows:
            payload = json.loads(text)
            if "transaction_id" in payload:
                payload["transaction_id"] = transaction_id
                self._db.execute("UPDATE messages SET payload = ? WHERE seq = ?", (_encode(payload), seq))

    def _mark_start_dropped(self, session_key: str) -> None:
        self._db.execute(
            "INSERT INTO sessions (session_key, start_dropped) VALUES (?, 1)"
            " ON CONFLICT (session_key) DO UPDATE SET start_dropped = 1",
            (session_key,),
        )

    def _set_parent(self, session_key: str, parent_id_tag: str) -> None:
        self._db.execute(
            "INSERT INTO sessions (session_key, parent_id_tag) VALUES (?, ?)"
            " ON CONFLICT (session_key) DO UPDATE SET parent_id_tag = excluded.parent_id_tag",
            (session_key, parent_id_tag),
        )

    def _session(self, session_key: str) -> SessionRecord | None:
        row = self._db.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_key = ?", (session_key,))
        found = row.fetchone()
        return None if found is None else _session_record(found)

    def _start_waiting(self, session_key: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM messages WHERE session_key = ? AND action = ? LIMIT 1", (session_key, START)
        ).fetchone()
        return row is not None


def _encode(payload: dict[str, Any]) -> str:
    """JSON without NaN/Infinity: a payload the CSMS cannot parse is refused here, not there."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


def _message(row: tuple[Any, ...]) -> QueuedMessage:
    seq, action, payload, attempts, not_before, session_key = row
    return QueuedMessage(seq, action, json.loads(payload), attempts, not_before, session_key)


def _session_record(row: tuple[Any, ...]) -> SessionRecord:
    key, start_queued, stop_queued, transaction_id, id_tag, parent_id_tag, start_dropped = row
    return SessionRecord(
        key, bool(start_queued), bool(stop_queued), transaction_id, id_tag, parent_id_tag, bool(start_dropped)
    )
