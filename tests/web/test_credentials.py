"""The PIN, login sessions and API tokens: secrets kept only as hashes, sessions that end."""

from __future__ import annotations

import stat
from pathlib import Path

from evnetd.web.credentials import TOKEN_PREFIX, Credentials, device_pin, pin_matches


def test_device_pin_is_made_once_private_and_six_digits(tmp_path: Path) -> None:
    pin = device_pin(tmp_path / "web", "")
    assert len(pin) == 6 and pin.isdigit()
    assert stat.S_IMODE((tmp_path / "web" / "pin").stat().st_mode) == 0o600
    assert device_pin(tmp_path / "web", "") == pin
    assert device_pin(tmp_path / "web", "24681357") == "24681357"  # the config's wins


def test_pin_matches() -> None:
    assert pin_matches("123456", "123456")
    assert not pin_matches("123457", "123456")
    assert not pin_matches("", "123456")


def test_sessions_end_and_are_stored_hashed(tmp_path: Path) -> None:
    store = Credentials(tmp_path / "web.db")
    session_id, login = store.open_session(now=1000.0, max_age_s=60)
    assert store.session(session_id, now=1059.0) == login
    assert store.session(session_id, now=1060.0) is None  # expired
    assert store.session("forged", now=1001.0) is None
    second, _ = store.open_session(now=2000.0, max_age_s=60)
    store.close_session(second)
    assert store.session(second, now=2001.0) is None
    store.close()
    assert session_id.encode() not in (tmp_path / "web.db").read_bytes() + _wal(tmp_path)


def test_api_tokens(tmp_path: Path) -> None:
    store = Credentials(tmp_path / "web.db")
    secret, token = store.create_token("Home Assistant", now=100.0)
    assert secret.startswith(TOKEN_PREFIX) and len(secret) > 40
    found = store.token(secret, now=200.0)
    assert found is not None and (found.id, found.name, found.last_used_at) == (token.id, "Home Assistant", 200.0)
    assert store.tokens()[0].last_used_at == 200.0
    store.token(secret, now=230.0)
    assert store.tokens()[0].last_used_at == 200.0  # recorded at most once a minute
    assert store.token(secret + "x", now=300.0) is None
    assert store.revoke_token(token.id)
    assert not store.revoke_token(token.id)
    assert store.token(secret, now=400.0) is None
    store.close()
    assert secret.encode() not in (tmp_path / "web.db").read_bytes() + _wal(tmp_path)


def _wal(directory: Path) -> bytes:
    wal = directory / "web.db-wal"
    return wal.read_bytes() if wal.exists() else b""
