"""Who may charge without asking the CSMS: the authorization cache and the local list (OCPP 1.6 §3.5).

A charger must keep starting sessions while the uplink is down and, with LocalPreAuthorize,
start them without waiting for Authorize.conf. Two sources of answers are kept on disk, in
a SQLite file of their own, because both must survive reboots (errata 3.4, §5.15):

* the cache: every IdTagInfo the CSMS gave us (Authorize/StartTransaction/StopTransaction.conf),
  except for tags in the local list; when full, not-valid entries go first, then the oldest;
* the local list: only SendLocalList changes it; it has priority over the cache.

``decide_locally`` applies §3.5's rules to a presented tag, ``may_stop`` those of §3.10 to
a tag presented during a transaction. Tags are IdTokens (CiString20), so they are compared
case-insensitively and stored upper-case.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from evnetd.runtime.storage import open_database

_MIGRATIONS = (
    """
    CREATE TABLE auth_cache (
        id_tag TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        expiry REAL,
        parent_id_tag TEXT,
        updated REAL NOT NULL
    );
    CREATE TABLE local_list (
        id_tag TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        expiry REAL,
        parent_id_tag TEXT
    );
    CREATE TABLE local_list_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
    INSERT INTO local_list_version VALUES (1, 0)
    """,
)

ID_TAG_MAX_LENGTH = 20
ACCEPTED = "Accepted"
_STATUSES = frozenset({ACCEPTED, "Blocked", "Expired", "Invalid", "ConcurrentTx"})


def _utc(moment: datetime) -> datetime:
    """An aware datetime; a naive one is taken to be UTC (OCPP times are UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _parse_expiry(value: Any) -> datetime | None:
    if not value:
        return None
    return _utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def normalize_tag(id_tag: str) -> str:
    return id_tag.strip().upper()


def valid_tag(id_tag: str) -> bool:
    return 0 < len(normalize_tag(id_tag)) <= ID_TAG_MAX_LENGTH


@dataclass(frozen=True, slots=True)
class IdTagInfo:
    status: str  # Accepted, Blocked, Expired, Invalid or ConcurrentTx
    expiry: datetime | None = None
    parent_id_tag: str | None = None

    @classmethod
    def from_ocpp(cls, info: Mapping[str, Any]) -> IdTagInfo:
        """From the library's snake_case dict. Anything unreadable counts as Invalid: no free energy."""
        status = str(info.get("status") or "Invalid")
        try:
            expiry = _parse_expiry(info.get("expiry_date"))
        except ValueError:
            return cls("Invalid")
        parent = info.get("parent_id_tag")
        return cls(status if status in _STATUSES else "Invalid", expiry, str(parent) if parent else None)

    def to_ocpp(self) -> dict[str, Any]:
        """The snake_case dict the library serialises (call_result payloads, AuthorizationData)."""
        result: dict[str, Any] = {"status": self.status}
        if self.expiry is not None:
            result["expiry_date"] = self.expiry.isoformat()
        if self.parent_id_tag is not None:
            result["parent_id_tag"] = self.parent_id_tag
        return result

    def effective(self, now: datetime) -> IdTagInfo:
        """The status at ``now``: an Accepted entry past its expiry date is Expired (§3.5.1)."""
        if self.status == ACCEPTED and self.expiry is not None and _utc(now) >= self.expiry:
            return IdTagInfo("Expired", self.expiry, self.parent_id_tag)
        return self


class UpdateStatus(StrEnum):
    """SendLocalList.conf statuses the store decides (NotSupported is the service's: list disabled)."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"
    VERSION_MISMATCH = "VersionMismatch"


def _row(info: IdTagInfo) -> tuple[str, float | None, str | None]:
    return info.status, info.expiry.timestamp() if info.expiry else None, info.parent_id_tag


def _info(row: tuple[str, float | None, str | None]) -> IdTagInfo:
    status, expiry, parent = row
    return IdTagInfo(status, datetime.fromtimestamp(expiry, UTC) if expiry is not None else None, parent)


class AuthStore:
    """The authorization cache and the local authorization list, in one SQLite file."""

    def __init__(self, path: Path, cache_size: int = 1000) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        self._db = open_database(path, _MIGRATIONS)
        self._cache_size = cache_size

    # the authorization cache (§3.5.1)

    def remember(self, id_tag: str, info: IdTagInfo, now: datetime) -> None:
        """Cache the CSMS's answer about ``id_tag`` unless the tag is in the local list."""
        tag = normalize_tag(id_tag)
        if not valid_tag(tag) or self.listed(tag) is not None:
            return
        if self.cached(tag) is None:
            self._make_room(_utc(now))
        self._db.execute(
            "INSERT INTO auth_cache VALUES (?, ?, ?, ?, ?) ON CONFLICT (id_tag) DO UPDATE SET status = excluded.status,"
            " expiry = excluded.expiry, parent_id_tag = excluded.parent_id_tag, updated = excluded.updated",
            (tag, *_row(info), _utc(now).timestamp()),
        )

    def _make_room(self, now: datetime) -> None:
        """Evict down to one free slot: not-valid entries first, then the least recently updated."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM auth_cache").fetchone()
        if count < self._cache_size:
            return
        self._db.execute(
            "DELETE FROM auth_cache WHERE id_tag IN (SELECT id_tag FROM auth_cache ORDER BY"
            " status = ? AND (expiry IS NULL OR expiry > ?), updated, rowid LIMIT ?)",
            (ACCEPTED, now.timestamp(), count - self._cache_size + 1),
        )

    def clear_cache(self) -> None:
        self._db.execute("DELETE FROM auth_cache")

    def cached(self, id_tag: str) -> IdTagInfo | None:
        return self._lookup("auth_cache", id_tag)

    # the local authorization list (§3.5.2, §5.10, §5.15)

    def list_version(self) -> int:
        """GetLocalListVersion: 0 while the list is empty (§5.10, OCTT TC_042_2)."""
        if self._db.execute("SELECT 1 FROM local_list LIMIT 1").fetchone() is None:
            return 0
        return int(self._db.execute("SELECT version FROM local_list_version").fetchone()[0])

    def send_local_list(
        self,
        version: int,
        update_type: str,
        entries: Sequence[Mapping[str, Any]],
        max_length: int,
        *,
        capacity: int | None = None,
    ) -> UpdateStatus:
        """SendLocalList: ``max_length`` bounds the entries of one update, ``capacity`` the whole list.

        A Differential update must carry a newer version than the one GetLocalListVersion shows
        (TC_043_2); an entry without id_tag_info deletes its tag. The update is all or nothing.
        """
        if update_type not in ("Full", "Differential") or version < 1 or len(entries) > max_length:
            return UpdateStatus.FAILED
        if update_type == "Differential" and version <= self.list_version():
            return UpdateStatus.VERSION_MISMATCH
        changes = _parse_entries(entries, full=update_type == "Full")
        if changes is None:
            return UpdateStatus.FAILED
        try:
            return self._apply(version, update_type == "Full", changes, capacity)
        except sqlite3.Error:
            return UpdateStatus.FAILED

    def _apply(
        self, version: int, full: bool, changes: dict[str, IdTagInfo | None], capacity: int | None
    ) -> UpdateStatus:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if full:
                self._db.execute("DELETE FROM local_list")
            for tag, info in changes.items():
                self._put_listed(tag, info)
            (size,) = self._db.execute("SELECT COUNT(*) FROM local_list").fetchone()
            if capacity is not None and size > capacity:
                self._db.execute("ROLLBACK")
                return UpdateStatus.FAILED
            self._db.execute("UPDATE local_list_version SET version = ?", (version,))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return UpdateStatus.ACCEPTED

    def _put_listed(self, tag: str, info: IdTagInfo | None) -> None:
        if info is None:
            self._db.execute("DELETE FROM local_list WHERE id_tag = ?", (tag,))
            return
        self._db.execute("INSERT OR REPLACE INTO local_list VALUES (?, ?, ?, ?)", (tag, *_row(info)))
        self._db.execute("DELETE FROM auth_cache WHERE id_tag = ?", (tag,))  # listed tags are never cached

    def listed(self, id_tag: str) -> IdTagInfo | None:
        return self._lookup("local_list", id_tag)

    def _lookup(self, table: str, id_tag: str) -> IdTagInfo | None:
        row = self._db.execute(
            f"SELECT status, expiry, parent_id_tag FROM {table} WHERE id_tag = ?", (normalize_tag(id_tag),)
        ).fetchone()
        return _info(row) if row else None

    def close(self) -> None:
        self._db.close()


def _parse_entries(entries: Sequence[Mapping[str, Any]], *, full: bool) -> dict[str, IdTagInfo | None] | None:
    """``{tag: info, or None to delete}``, or None if an entry is malformed or repeated."""
    changes: dict[str, IdTagInfo | None] = {}
    for entry in entries:
        tag = normalize_tag(str(entry.get("id_tag") or ""))
        info = entry.get("id_tag_info")
        if not valid_tag(tag) or tag in changes or (full and not info):
            return None
        changes[tag] = IdTagInfo.from_ocpp(info) if info else None
    return changes


class Verdict(StrEnum):
    ACCEPTED = "accepted"  # start without asking the CSMS
    REJECTED = "rejected"  # refuse without asking the CSMS
    ASK = "ask"  # send Authorize.req and follow its answer


@dataclass(frozen=True, slots=True)
class LocalDecision:
    """``info``: the entry that decided, as effective at the time; ``source``: where it came from."""

    verdict: Verdict
    info: IdTagInfo | None = None
    source: str | None = None  # "list", "cache" or "offline-unknown"


_ASK = LocalDecision(Verdict.ASK)


def decide_locally(
    id_tag: str,
    store: AuthStore,
    *,
    online: bool,
    list_enabled: bool,
    cache_enabled: bool,
    local_pre_authorize: bool,
    local_authorize_offline: bool,
    allow_offline_unknown: bool,
    now: datetime,
) -> LocalDecision:
    """What to do with a presented tag before (or instead of) asking the CSMS (§3.5)."""
    if not valid_tag(id_tag):
        return LocalDecision(Verdict.REJECTED, IdTagInfo("Invalid"))
    source, entry = _known(id_tag, store, list_enabled=list_enabled, cache_enabled=cache_enabled)
    info = entry.effective(now) if entry is not None else None
    valid = info is not None and info.status == ACCEPTED
    if online:
        return LocalDecision(Verdict.ACCEPTED, info, source) if valid and local_pre_authorize else _ASK
    if info is not None and not valid:  # known and not valid: rejected even with AllowOfflineTxForUnknownId
        return LocalDecision(Verdict.REJECTED, info, source)
    if valid and local_authorize_offline:
        return LocalDecision(Verdict.ACCEPTED, info, source)
    if allow_offline_unknown:  # unknown, or known but LocalAuthorizeOffline forbids using what we know
        return LocalDecision(Verdict.ACCEPTED, IdTagInfo(ACCEPTED), "offline-unknown")
    return LocalDecision(Verdict.REJECTED)


def _known(
    id_tag: str, store: AuthStore, *, list_enabled: bool, cache_enabled: bool
) -> tuple[str | None, IdTagInfo | None]:
    """The list entry of ``id_tag``, else its cache entry, among the enabled sources."""
    if list_enabled and (entry := store.listed(id_tag)) is not None:
        return "list", entry
    if cache_enabled and (entry := store.cached(id_tag)) is not None:
        return "cache", entry
    return None, None


def may_stop(presented: str, started_tag: str, started_parent: str | None, presented_info: IdTagInfo | None) -> bool:
    """Whether ``presented`` may stop a transaction started by ``started_tag`` (§3.10, §4.1).

    The same tag always may; another tag only if it is Accepted with the transaction's (non-empty)
    parentIdTag. A tag equal to the parentIdTag string itself gets no special right.
    """
    if normalize_tag(presented) == normalize_tag(started_tag):
        return True
    if not started_parent or presented_info is None or presented_info.status != ACCEPTED:
        return False
    return normalize_tag(presented_info.parent_id_tag or "") == normalize_tag(started_parent)
