"""Operator settings that must survive a restart: availability and the user current limit."""

from __future__ import annotations

from pathlib import Path

from evnetd.runtime.storage import open_database

_MIGRATIONS = ("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",)


class SettingsStore:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _MIGRATIONS)

    def get(self, key: str, default: str) -> str:
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def set(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def delete(self, key: str) -> None:
        self._db.execute("DELETE FROM settings WHERE key = ?", (key,))

    def close(self) -> None:
        self._db.close()
