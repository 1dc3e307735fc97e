"""SQLite in WAL mode: the one way every service keeps state it must not lose.

``synchronous=FULL`` in WAL mode makes each commit durable when it returns (the WAL is
fsynced), which is what "nothing lost on power loss" needs for energy and transactions.
Schemas are versioned with ``PRAGMA user_version`` and upgraded in order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path


def open_database(path: Path, migrations: Sequence[str]) -> sqlite3.Connection:
    """Open (creating) ``path`` and apply the migrations it has not seen yet.

    ``migrations[k]`` upgrades schema version k to k + 1; never edit a released one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=5000")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        db.close()
        raise RuntimeError(f"{path}: schema version {version} is newer than this software ({len(migrations)})")
    for number in range(version, len(migrations)):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migrations[number]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version={number + 1}")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            db.close()
            raise
        db.execute("COMMIT")
    return db


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
