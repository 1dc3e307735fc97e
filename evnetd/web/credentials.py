"""Who may use the API: the device PIN, login sessions and API tokens (``STATE_DIR/web``).

Only hashes of session ids and API tokens are stored: a copy of the database (a
diagnostics bundle, a stolen SD card image) logs nobody in. Both secrets are 256-bit
random, so a plain SHA-256 is enough; the PIN is short, which is why logins are rate
limited (``ratelimit.py``) instead.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from evnetd.runtime.storage import open_database

TOKEN_PREFIX = "evnet_"
_MIGRATIONS = (
    """CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, csrf TEXT NOT NULL, expires_at REAL NOT NULL);
       CREATE TABLE api_tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
                                token_hash TEXT NOT NULL UNIQUE, created_at REAL NOT NULL, last_used_at REAL)""",
)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def device_pin(directory: Path, configured: str) -> str:
    """The PIN: ``web.pin`` from the config if set, else the device's own.

    The device's own is made at first start (6 random digits) and kept in ``pin`` (0600):
    every charger has a different one, never a shared default, and it is never logged.
    (The board's EEPROM belongs to the meter service, which does not publish a PIN.)
    """
    if configured:
        return configured
    path = directory / "pin"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    pin = f"{secrets.randbelow(1_000_000):06d}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(pin + "\n")
    return pin


def pin_matches(given: str, pin: str) -> bool:
    return hmac.compare_digest(given.encode(), pin.encode())


@dataclass(frozen=True, slots=True)
class Login:
    csrf_token: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    created_at: float
    last_used_at: float | None


class Credentials:
    """Sessions and API tokens in ``web.db``; ``now`` is wall-clock time (they outlive restarts)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = open_database(path, _MIGRATIONS)
        path.chmod(0o600)

    def close(self) -> None:
        self._db.close()

    # --- login sessions --------------------------------------------------------------
    def open_session(self, now: float, max_age_s: float) -> tuple[str, Login]:
        """A new session: (its id for the cookie, its CSRF token and end)."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        login = Login(csrf, now + max_age_s)
        self._db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        self._db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (_hash(session_id), csrf, login.expires_at))
        return session_id, login

    def session(self, session_id: str, now: float) -> Login | None:
        row = self._db.execute(
            "SELECT csrf, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?", (_hash(session_id), now)
        ).fetchone()
        return Login(row[0], row[1]) if row else None

    def close_session(self, session_id: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (_hash(session_id),))

    # --- API tokens -------------------------------------------------------------------
    def create_token(self, name: str, now: float) -> tuple[str, ApiToken]:
        """A new token: (the secret, shown once and stored only hashed; its record)."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        cursor = self._db.execute(
            "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?)", (name, _hash(secret), now)
        )
        assert cursor.lastrowid is not None
        return secret, ApiToken(cursor.lastrowid, name, now, None)

    def tokens(self) -> list[ApiToken]:
        rows = self._db.execute("SELECT id, name, created_at, last_used_at FROM api_tokens ORDER BY id").fetchall()
        return [ApiToken(*row) for row in rows]

    def token(self, secret: str, now: float) -> ApiToken | None:
        """The token with this secret (its use is recorded), or None."""
        row = self._db.execute(
            "SELECT id, name, created_at FROM api_tokens WHERE token_hash = ?", (_hash(secret),)
        ).fetchone()
        if row is None:
            return None
        # recorded at most once a minute: each write is an fsync (synchronous=FULL)
        self._db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND "
                         "(last_used_at IS NULL OR last_used_at < ?)", (now, row[0], now - 60))  # fmt: skip
        return ApiToken(row[0], row[1], row[2], now)

    def revoke_token(self, token_id: int) -> bool:
        return self._db.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,)).rowcount > 0
