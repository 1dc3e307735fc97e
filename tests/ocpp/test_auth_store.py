"""Authorization cache, local list (TC_042/TC_043), the local decision (§3.5) and who may stop (§3.10)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evnetd.ocpp.authstore import AuthStore, IdTagInfo, UpdateStatus, Verdict, decide_locally, may_stop

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PAST = NOW - timedelta(days=1)
FUTURE = NOW + timedelta(days=1)
OK = IdTagInfo("Accepted")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AuthStore]:
    auth = AuthStore(tmp_path / "auth.db")
    yield auth
    auth.close()


def entry(tag: str, status: str | None = "Accepted", **info: Any) -> dict[str, Any]:
    if status is None:
        return {"id_tag": tag}
    return {"id_tag": tag, "id_tag_info": {"status": status, **info}}


# IdTagInfo


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"status": "Accepted"}, IdTagInfo("Accepted")),
        (
            {"status": "Accepted", "expiry_date": "2025-06-02T12:00:00Z", "parent_id_tag": "FLEET"},
            IdTagInfo("Accepted", FUTURE, "FLEET"),
        ),
        ({"status": "Blocked", "expiry_date": "2025-06-02T14:00:00+02:00"}, IdTagInfo("Blocked", FUTURE)),
        ({"status": "Accepted", "expiry_date": "2025-06-02T12:00:00"}, IdTagInfo("Accepted", FUTURE)),
        ({"status": "Accepted", "expiry_date": FUTURE}, IdTagInfo("Accepted", FUTURE)),
        ({}, IdTagInfo("Invalid")),
        ({"status": None, "parent_id_tag": "FLEET"}, IdTagInfo("Invalid", None, "FLEET")),
        ({"status": "Sure"}, IdTagInfo("Invalid")),
        ({"status": "Accepted", "expiry_date": "next week"}, IdTagInfo("Invalid")),
        ({"status": "ConcurrentTx", "parent_id_tag": ""}, IdTagInfo("ConcurrentTx")),
    ],
)
def test_id_tag_info_from_the_library(given: dict[str, Any], expected: IdTagInfo) -> None:
    assert IdTagInfo.from_ocpp(given) == expected


def test_id_tag_info_to_the_library_and_back() -> None:
    info = IdTagInfo("Accepted", FUTURE, "FLEET")
    assert info.to_ocpp() == {
        "status": "Accepted",
        "expiry_date": "2025-06-02T12:00:00+00:00",
        "parent_id_tag": "FLEET",
    }
    assert IdTagInfo.from_ocpp(info.to_ocpp()) == info
    assert IdTagInfo("Blocked").to_ocpp() == {"status": "Blocked"}


@pytest.mark.parametrize(
    ("info", "status"),
    [
        (IdTagInfo("Accepted"), "Accepted"),
        (IdTagInfo("Accepted", FUTURE), "Accepted"),
        (IdTagInfo("Accepted", NOW), "Expired"),
        (IdTagInfo("Accepted", PAST, "FLEET"), "Expired"),
        (IdTagInfo("Blocked", PAST), "Blocked"),
    ],
)
def test_an_accepted_tag_expires_with_time(info: IdTagInfo, status: str) -> None:
    assert info.effective(NOW).status == status
    assert info.effective(NOW.replace(tzinfo=None)).status == status  # naive means UTC
    assert info.effective(NOW).parent_id_tag == info.parent_id_tag


# the cache


def test_the_cache_keeps_answers_across_reopening_until_cleared(tmp_path: Path) -> None:
    store = AuthStore(tmp_path / "auth.db")
    store.remember("04a1b2", IdTagInfo("Accepted", FUTURE, "FLEET"), NOW)
    store.remember("BAD", IdTagInfo("Blocked"), NOW)
    store.close()
    store = AuthStore(tmp_path / "auth.db")
    assert store.cached("04A1B2") == IdTagInfo("Accepted", FUTURE, "FLEET")
    assert store.cached("bad") == IdTagInfo("Blocked")
    store.remember("BAD", OK, NOW)  # a newer answer replaces the old one
    assert store.cached("BAD") == OK
    store.clear_cache()
    assert store.cached("04A1B2") is None and store.cached("BAD") is None
    store.close()


def test_tags_in_the_local_list_are_never_cached(store: AuthStore) -> None:
    store.remember("CARD", IdTagInfo("Blocked"), NOW)
    assert store.send_local_list(1, "Full", [entry("card")], 100) is UpdateStatus.ACCEPTED
    assert store.cached("CARD") is None  # listing a tag drops its cache entry
    store.remember("CARD", IdTagInfo("Blocked"), NOW)
    assert store.cached("CARD") is None
    assert store.listed("CARD") == OK


def test_too_long_tags_are_not_cached(store: AuthStore) -> None:
    store.remember("X" * 21, OK, NOW)
    assert store.cached("X" * 21) is None


def test_eviction_takes_not_valid_entries_first_then_the_oldest(tmp_path: Path) -> None:
    store = AuthStore(tmp_path / "auth.db", cache_size=3)
    store.remember("OLD", OK, NOW)
    store.remember("BLOCKED", IdTagInfo("Blocked"), NOW + timedelta(minutes=1))
    store.remember("NEW", OK, NOW + timedelta(minutes=2))
    store.remember("D", OK, NOW + timedelta(minutes=3))
    assert store.cached("BLOCKED") is None
    assert store.cached("OLD") == OK
    store.remember("OLD", OK, NOW + timedelta(minutes=4))  # refreshed: now the newest
    store.remember("E", OK, NOW + timedelta(minutes=5))
    assert [tag for tag in ("OLD", "NEW", "D", "E") if store.cached(tag) is None] == ["NEW"]
    store.close()


def test_an_expired_entry_is_evicted_before_older_valid_ones(tmp_path: Path) -> None:
    store = AuthStore(tmp_path / "auth.db", cache_size=2)
    store.remember("VALID", OK, NOW)
    store.remember("EXPIRED", IdTagInfo("Accepted", NOW + timedelta(minutes=1)), NOW + timedelta(minutes=1))
    store.remember("NEW", OK, NOW + timedelta(minutes=2))
    assert store.cached("EXPIRED") is None
    assert store.cached("VALID") == OK and store.cached("NEW") == OK
    store.close()


def test_updating_a_cached_tag_evicts_nothing(tmp_path: Path) -> None:
    store = AuthStore(tmp_path / "auth.db", cache_size=2)
    store.remember("A", OK, NOW)
    store.remember("B", IdTagInfo("Invalid"), NOW)
    store.remember("B", OK, NOW)
    assert store.cached("A") == OK and store.cached("B") == OK
    store.close()


def test_a_cache_needs_room_for_one_entry(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        AuthStore(tmp_path / "auth.db", cache_size=0)


# the local list


def test_an_empty_list_has_version_0(store: AuthStore) -> None:
    assert store.list_version() == 0
    assert store.send_local_list(1, "Full", [], 100) is UpdateStatus.ACCEPTED  # TC_042_2
    assert store.list_version() == 0


def test_tc043_2_version_mismatch(store: AuthStore) -> None:
    assert store.send_local_list(2, "Full", [entry("A")], 100) is UpdateStatus.ACCEPTED
    assert store.list_version() == 2
    assert store.send_local_list(5, "Differential", [entry("B")], 100) is UpdateStatus.ACCEPTED
    assert store.list_version() == 5
    assert store.send_local_list(4, "Differential", [entry("C")], 100) is UpdateStatus.VERSION_MISMATCH
    assert store.list_version() == 5 and store.listed("C") is None
    assert store.send_local_list(5, "Differential", [entry("C")], 100) is UpdateStatus.VERSION_MISMATCH


def test_a_full_update_replaces_whatever_its_version(store: AuthStore) -> None:
    assert store.send_local_list(5, "Full", [entry("A"), entry("B")], 100) is UpdateStatus.ACCEPTED
    assert store.send_local_list(4, "Full", [entry("C", "Blocked")], 100) is UpdateStatus.ACCEPTED
    assert store.list_version() == 4
    assert (store.listed("A"), store.listed("B"), store.listed("C")) == (None, None, IdTagInfo("Blocked"))


def test_a_differential_update_adds_changes_and_deletes(store: AuthStore) -> None:
    store.send_local_list(1, "Full", [entry("A"), entry("B"), entry("C")], 100)
    update = [entry("a", "Blocked"), entry("B", None), entry("D", "Accepted", expiry_date="2025-06-02T12:00:00Z")]
    assert store.send_local_list(2, "Differential", update, 100) is UpdateStatus.ACCEPTED
    assert store.listed("A") == IdTagInfo("Blocked")
    assert store.listed("B") is None and store.listed("C") == OK
    assert store.listed("d") == IdTagInfo("Accepted", FUTURE)
    assert store.send_local_list(3, "Differential", [entry("Z", None)], 100) is UpdateStatus.ACCEPTED  # no-op


def test_deleting_every_entry_brings_the_version_back_to_0(store: AuthStore) -> None:
    store.send_local_list(1, "Full", [entry("A")], 100)
    assert store.send_local_list(2, "Differential", [entry("A", None)], 100) is UpdateStatus.ACCEPTED
    assert store.list_version() == 0
    assert store.send_local_list(1, "Differential", [entry("B")], 100) is UpdateStatus.ACCEPTED


@pytest.mark.parametrize(
    ("version", "update_type", "entries"),
    [
        (3, "Full", [entry(f"T{n}") for n in range(4)]),  # more than SendLocalListMaxLength
        (3, "Differential", [entry(f"T{n}") for n in range(4)]),
        (3, "Full", [entry("A", None)]),  # a Full update must say what each tag is
        (3, "Full", [{"id_tag_info": {"status": "Accepted"}}]),
        (3, "Full", [entry("X" * 21)]),
        (3, "Full", [entry("A"), entry("a", "Blocked")]),  # the same tag twice
        (3, "Partial", [entry("A")]),
        (0, "Full", [entry("A")]),
        (-1, "Full", [entry("A")]),
    ],
)
def test_failed_updates_change_nothing(
    store: AuthStore, version: int, update_type: str, entries: list[dict[str, Any]]
) -> None:
    store.send_local_list(2, "Full", [entry("OLD")], 3)
    assert store.send_local_list(version, update_type, entries, 3) is UpdateStatus.FAILED
    assert store.list_version() == 2 and store.listed("OLD") == OK and store.listed("A") is None


def test_the_list_cannot_grow_past_its_capacity(store: AuthStore) -> None:
    assert store.send_local_list(1, "Full", [entry("A"), entry("B")], 100, capacity=2) is UpdateStatus.ACCEPTED
    assert store.send_local_list(2, "Differential", [entry("C")], 100, capacity=2) is UpdateStatus.FAILED
    assert store.list_version() == 1 and store.listed("C") is None
    update = [entry("A", None), entry("C")]
    assert store.send_local_list(2, "Differential", update, 100, capacity=2) is UpdateStatus.ACCEPTED


def test_the_list_survives_reopening(tmp_path: Path) -> None:
    store = AuthStore(tmp_path / "auth.db")
    store.send_local_list(7, "Full", [entry("A", "Accepted", parent_id_tag="FLEET", expiry_date=FUTURE)], 100)
    store.close()
    store = AuthStore(tmp_path / "auth.db")
    assert store.list_version() == 7
    assert store.listed("A") == IdTagInfo("Accepted", FUTURE, "FLEET")
    store.close()


# the local decision

LIST = {"LISTOK": OK, "LISTBLK": IdTagInfo("Blocked"), "LISTEXP": IdTagInfo("Accepted", PAST)}
CACHE = {"CACHEOK": OK, "CACHEINV": IdTagInfo("Invalid"), "CACHEEXP": IdTagInfo("Accepted", PAST)}
_ONLINE = {"online": True, "local_authorize_offline": True, "allow_offline_unknown": True}
_OFFLINE = {"online": False, "local_pre_authorize": False, "local_authorize_offline": True}
PRE = {**_ONLINE, "local_pre_authorize": True}  # online, LocalPreAuthorize
NO_PRE = {**_ONLINE, "local_pre_authorize": False}
OFF = {**_OFFLINE, "allow_offline_unknown": False}  # offline, LocalAuthorizeOffline
OFF_ANY = {**_OFFLINE, "allow_offline_unknown": True}  # ... and AllowOfflineTxForUnknownId
NO_LOCAL = {**OFF, "local_authorize_offline": False}
NO_LOCAL_ANY = {**OFF_ANY, "local_authorize_offline": False}
UNKNOWN_OK = "offline-unknown"


@pytest.fixture
def known(store: AuthStore) -> AuthStore:
    store.send_local_list(1, "Full", [{"id_tag": tag, "id_tag_info": info.to_ocpp()} for tag, info in LIST.items()], 9)
    for tag, info in CACHE.items():
        store.remember(tag, info, PAST)
    return store


@pytest.mark.parametrize(
    ("tag", "settings", "verdict", "source", "status"),
    [
        # online with LocalPreAuthorize: a valid entry starts at once, anything else asks the CSMS
        ("LISTOK", PRE, Verdict.ACCEPTED, "list", "Accepted"),
        ("listok", PRE, Verdict.ACCEPTED, "list", "Accepted"),
        ("CACHEOK", PRE, Verdict.ACCEPTED, "cache", "Accepted"),
        ("LISTBLK", PRE, Verdict.ASK, None, None),
        ("LISTEXP", PRE, Verdict.ASK, None, None),
        ("CACHEINV", PRE, Verdict.ASK, None, None),
        ("CACHEEXP", PRE, Verdict.ASK, None, None),
        ("UNKNOWN", PRE, Verdict.ASK, None, None),
        ("CACHEOK", {**PRE, "cache_enabled": False}, Verdict.ASK, None, None),
        ("LISTOK", {**PRE, "list_enabled": False}, Verdict.ASK, None, None),
        # online without LocalPreAuthorize: always ask
        ("LISTOK", NO_PRE, Verdict.ASK, None, None),
        ("CACHEOK", NO_PRE, Verdict.ASK, None, None),
        # offline with LocalAuthorizeOffline
        ("LISTOK", OFF, Verdict.ACCEPTED, "list", "Accepted"),
        ("CACHEOK", OFF, Verdict.ACCEPTED, "cache", "Accepted"),
        ("LISTBLK", OFF, Verdict.REJECTED, "list", "Blocked"),
        ("CACHEEXP", OFF, Verdict.REJECTED, "cache", "Expired"),
        ("UNKNOWN", OFF, Verdict.REJECTED, None, None),
        # AllowOfflineTxForUnknownId: unknown tags go, known bad ones still don't (§3.5.4)
        ("UNKNOWN", OFF_ANY, Verdict.ACCEPTED, UNKNOWN_OK, "Accepted"),
        ("LISTOK", OFF_ANY, Verdict.ACCEPTED, "list", "Accepted"),
        ("LISTBLK", OFF_ANY, Verdict.REJECTED, "list", "Blocked"),
        ("LISTEXP", OFF_ANY, Verdict.REJECTED, "list", "Expired"),
        ("CACHEEXP", OFF_ANY, Verdict.REJECTED, "cache", "Expired"),
        ("CACHEINV", OFF_ANY, Verdict.REJECTED, "cache", "Invalid"),
        # a disabled source is not consulted: its tags are unknown
        ("CACHEOK", {**OFF, "cache_enabled": False}, Verdict.REJECTED, None, None),
        ("LISTBLK", {**OFF_ANY, "list_enabled": False}, Verdict.ACCEPTED, UNKNOWN_OK, "Accepted"),
        # offline without LocalAuthorizeOffline: list and cache can't authorize, only refuse
        ("LISTOK", NO_LOCAL, Verdict.REJECTED, None, None),
        ("LISTOK", NO_LOCAL_ANY, Verdict.ACCEPTED, UNKNOWN_OK, "Accepted"),
        ("LISTBLK", NO_LOCAL_ANY, Verdict.REJECTED, "list", "Blocked"),
        # tags no CSMS could be asked about
        ("", PRE, Verdict.REJECTED, None, "Invalid"),
        ("X" * 21, OFF_ANY, Verdict.REJECTED, None, "Invalid"),
    ],
)
def test_decide_locally(
    known: AuthStore, tag: str, settings: dict[str, bool], verdict: Verdict, source: str | None, status: str | None
) -> None:
    enabled = {"list_enabled": True, "cache_enabled": True}
    decision = decide_locally(tag, known, **{**enabled, **settings}, now=NOW)
    assert decision.verdict is verdict
    assert decision.source == source
    assert (decision.info.status if decision.info else None) == status


def test_the_list_has_priority_over_the_cache(store: AuthStore) -> None:
    store.remember("CARD", OK, NOW)
    store.send_local_list(1, "Full", [entry("CARD", "Blocked")], 100)
    decision = decide_locally(
        "CARD",
        store,
        online=False,
        list_enabled=True,
        cache_enabled=True,
        local_pre_authorize=False,
        local_authorize_offline=True,
        allow_offline_unknown=True,
        now=NOW,
    )
    assert (decision.verdict, decision.source) == (Verdict.REJECTED, "list")


# who may stop a transaction


@pytest.mark.parametrize(
    ("presented", "started_tag", "started_parent", "presented_info", "allowed"),
    [
        ("CARD", "CARD", None, None, True),
        ("card", "CARD", None, None, True),
        ("CARD", "CARD", "FLEET", IdTagInfo("Blocked"), True),  # the starter needs nobody's permission
        ("OTHER", "CARD", None, OK, False),
        ("OTHER", "CARD", None, IdTagInfo("Accepted", None, "FLEET"), False),  # no parent on the transaction
        ("OTHER", "CARD", "", IdTagInfo("Accepted", None, ""), False),
        ("OTHER", "CARD", "FLEET", IdTagInfo("Accepted", None, "FLEET"), True),
        ("OTHER", "CARD", "FLEET", IdTagInfo("Accepted", None, "fleet"), True),
        ("OTHER", "CARD", "FLEET", IdTagInfo("Accepted", None, "OTHERFLEET"), False),
        ("OTHER", "CARD", "FLEET", IdTagInfo("Accepted"), False),
        ("OTHER", "CARD", "FLEET", IdTagInfo("Blocked", None, "FLEET"), False),
        ("OTHER", "CARD", "FLEET", None, False),  # not authorized (yet)
        ("FLEET", "CARD", "FLEET", None, False),  # the parent's own string gives no right (§3.10)
    ],
)
def test_may_stop(
    presented: str, started_tag: str, started_parent: str | None, presented_info: IdTagInfo | None, allowed: bool
) -> None:
    assert may_stop(presented, started_tag, started_parent, presented_info) is allowed
