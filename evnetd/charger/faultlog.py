"""The fault history: every fault the charger raised or saw the meter raise, with its times.

The journal has the same events, but the web client's diagnostics page and the app need
"what went wrong last week" without journal access, so the charger keeps a bounded
history in its state directory (the newest ``HISTORY_SIZE`` records).

A fault is open (``cleared_at`` NULL) while it is active. ``update`` takes the complete
set of a source's active faults and makes the open records match it: new ones are
raised, missing ones cleared. Because the open records are the memory, a restarted
charger simply reconciles: what cleared while it was down is closed at its first look,
what is still active stays one record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evnetd.iec61851.status import ErrorCode
from evnetd.protection.faults import Fault as MeterFault
from evnetd.runtime.storage import open_database

HISTORY_SIZE = 500
SOURCES = ("meter", "charger")

_MIGRATIONS = (
    """
    CREATE TABLE faults (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        fault TEXT NOT NULL,
        error_code TEXT NOT NULL,
        info TEXT NOT NULL,
        raised_at REAL NOT NULL,
        cleared_at REAL
    );
    CREATE INDEX faults_open ON faults (source, cleared_at)
    """,
)

Active = Mapping[str, tuple[str, str]]
"""A source's active faults: name → (OCPP error code, info)."""


@dataclass(frozen=True, slots=True)
class FaultRecord:
    id: int
    source: str  # "meter" or "charger"
    fault: str
    error_code: str  # OCPP ChargePointErrorCode
    info: str
    raised_at: float  # UNIX seconds
    cleared_at: float | None  # None while active


def meter_error_code(name: str) -> str:
    """The OCPP error code of a name in the meter's ``ActiveFaults``."""
    if name == "hold":  # PERMIT held low at the charger's request (welded contactor)
        return ErrorCode.POWER_SWITCH_FAILURE.value
    try:
        return MeterFault(name).error_code
    except ValueError:  # a fault a newer meter knows: still recorded
        return ErrorCode.OTHER_ERROR.value


class FaultLog:
    def __init__(self, path: Path, size: int = HISTORY_SIZE) -> None:
        self._db = open_database(path, _MIGRATIONS)
        self._size = size

    def update(self, source: str, active: Active, now: float) -> tuple[list[str], list[str]]:
        """Open a record for each fault of ``active`` without one, close the open records of
        ``source`` not in ``active``, at ``now`` (UNIX seconds); (raised, cleared) names."""
        if source not in SOURCES:
            raise ValueError(f"fault source {source!r}: must be one of {', '.join(SOURCES)}")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = self._db.execute(
                "SELECT fault FROM faults WHERE source = ? AND cleared_at IS NULL", (source,)
            ).fetchall()
            open_now = {str(row[0]) for row in rows}
            cleared = sorted(open_now - set(active))
            raised = sorted(set(active) - open_now)
            self._db.executemany(
                "UPDATE faults SET cleared_at = ? WHERE source = ? AND fault = ? AND cleared_at IS NULL",
                [(now, source, name) for name in cleared],
            )
            self._db.executemany(
                "INSERT INTO faults (source, fault, error_code, info, raised_at) VALUES (?, ?, ?, ?, ?)",
                [(source, name, *active[name], now) for name in raised],
            )
            if raised:  # only closed records go: an active fault keeps its record however old
                self._db.execute(
                    "DELETE FROM faults WHERE cleared_at IS NOT NULL AND id <= "
                    "(SELECT id FROM faults ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (self._size,),
                )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return raised, cleared

    def recent(self, limit: int) -> list[FaultRecord]:
        """The newest ``limit`` records, newest first."""
        rows = self._db.execute(
            "SELECT id, source, fault, error_code, info, raised_at, cleared_at FROM faults ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [FaultRecord(*row) for row in rows]

    def close(self) -> None:
        self._db.close()
