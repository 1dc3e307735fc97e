"""Installed OCPP charging profiles on disk: they must survive a restart (OCPP 1.6 errata 3.37).

A CSMS sends a ChargePointMax or TxDefault profile once and counts on it from then on, also
after we lose power; a charger that forgot it would draw more than the site or the tariff
allows. Each profile is kept as the dict the ``ocpp`` library handed us (snake_case, as
JSON, ``Decimal`` written as float) next to its connector, keyed by ``charging_profile_id``
which is unique across the charger (a new profile with a known id replaces the old one).
Interpreting the profiles is ``evnetd.ocpp.smartcharging``'s job; this module only keeps them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from evnetd.runtime.storage import open_database

_MIGRATIONS = (
    """
    CREATE TABLE profiles (
        id INTEGER PRIMARY KEY,
        connector_id INTEGER NOT NULL,
        body TEXT NOT NULL
    )
    """,
)


@dataclass(frozen=True, slots=True)
class StoredProfile:
    connector_id: int
    profile: dict[str, Any]


class ProfileStore:
    """The installed profiles, one SQLite file of their own (WAL, synchronous FULL)."""

    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _MIGRATIONS)

    def load(self) -> list[StoredProfile]:
        rows = self._db.execute("SELECT connector_id, body FROM profiles ORDER BY id").fetchall()
        return [StoredProfile(int(connector), json.loads(body)) for connector, body in rows]

    def save(self, connector_id: int, profile: dict[str, Any], *, replaces: Iterable[int] = ()) -> None:
        """Store ``profile`` and delete the profiles it replaces, in one transaction."""
        body = json.dumps(profile, default=_plain, sort_keys=True)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("DELETE FROM profiles WHERE id = ?", [(i,) for i in replaces])
            self._db.execute(
                "INSERT OR REPLACE INTO profiles (id, connector_id, body) VALUES (?, ?, ?)",
                (int(profile["charging_profile_id"]), connector_id, body),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def delete(self, profile_ids: Iterable[int]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany("DELETE FROM profiles WHERE id = ?", [(i,) for i in profile_ids])
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def _plain(value: object) -> float:
    """JSON for what the library puts in a profile besides plain types: ``Decimal`` limits."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot store {type(value).__name__} in a charging profile")
