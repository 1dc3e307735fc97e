"""What the meter keeps on disk: the energy register and the latched faults.

The register is written when it has moved by ``STEP_MWH`` since the last write, so a
kill -9 loses less than that (the issue allows 10 Wh), and at once on a clean stop or
when the meter sees mains fail (the supply's hold-up time is enough for one commit).
Latched faults (tamper, RCD, the 4th over-current) and the charger's PERMIT hold (a
welded contactor) are kept so that a restart, kill -9 included, is not a way round "only
an operator clears it".
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from evnetd.protection.faults import Fault
from evnetd.runtime.storage import open_database

STEP_MWH = 5_000  # 5 Wh between writes: half the allowed loss; about one write per 2.6 s at 7 kW

_MIGRATIONS = (
    """
    CREATE TABLE energy_register (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        milli_wh INTEGER NOT NULL CHECK (milli_wh >= 0),
        written_at REAL NOT NULL
    );
    INSERT INTO energy_register VALUES (1, 0, 0);
    CREATE TABLE latched_faults (fault TEXT PRIMARY KEY)
    """,
    """
    CREATE TABLE permit_hold (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        reason TEXT NOT NULL,
        held_at REAL NOT NULL
    )
    """,
)


class MeterStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _MIGRATIONS)
        self.saved_mwh: int = self._db.execute("SELECT milli_wh FROM energy_register").fetchone()[0]
        self.latched: frozenset[Fault] = frozenset(
            Fault(row[0]) for row in self._db.execute("SELECT fault FROM latched_faults")
        )
        row = self._db.execute("SELECT reason FROM permit_hold").fetchone()
        self.hold: str | None = None if row is None else row[0]

    def save_if_due(self, milli_wh: int) -> bool:
        """Persist when the register has moved by STEP_MWH; True when written."""
        if milli_wh - self.saved_mwh >= STEP_MWH:
            self.save(milli_wh)
            return True
        return False

    def save(self, milli_wh: int) -> None:
        """Persist now (durable on return). The register never goes backwards on disk."""
        if milli_wh <= self.saved_mwh:
            return
        self._db.execute(
            "UPDATE energy_register SET milli_wh = ?, written_at = ? WHERE id = 1 AND milli_wh < ?",
            (milli_wh, time.time(), milli_wh),
        )
        self.saved_mwh = milli_wh

    def save_latched(self, faults: Iterable[Fault]) -> None:
        wanted = frozenset(faults)
        if wanted == self.latched:
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM latched_faults")
        self._db.executemany("INSERT INTO latched_faults VALUES (?)", [(f.value,) for f in wanted])
        self._db.execute("COMMIT")
        self.latched = wanted

    def save_hold(self, reason: str | None) -> None:
        """Persist the PERMIT hold (None: released); durable on return."""
        if reason == self.hold:
            return
        if reason is None:
            self._db.execute("DELETE FROM permit_hold")
        else:
            self._db.execute("INSERT OR REPLACE INTO permit_hold VALUES (1, ?, ?)", (reason, time.time()))
        self.hold = reason

    def close(self) -> None:
        self._db.close()
