"""Charging profiles on disk: round trip, replacement in one transaction, survival across reopening."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evnetd.ocpp.profiles import ProfileStore, StoredProfile


def _profile(profile_id: int, limit: Decimal = Decimal("16.0")) -> dict[str, Any]:
    return {
        "charging_profile_id": profile_id,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Absolute",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "start_schedule": "2024-05-06T12:00:00Z",
            "charging_schedule_period": [{"start_period": 0, "limit": limit}],
        },
    }


def _limit(stored: StoredProfile) -> float:
    return float(stored.profile["charging_schedule"]["charging_schedule_period"][0]["limit"])


def test_profiles_survive_reopening_with_decimals_as_floats(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "p.db")
    store.save(0, _profile(7, Decimal("13.3")))
    store.save(1, _profile(3))
    store.close()

    loaded = ProfileStore(tmp_path / "p.db").load()
    assert [(s.connector_id, s.profile["charging_profile_id"]) for s in loaded] == [(1, 3), (0, 7)]
    assert _limit(loaded[1]) == 13.3


def test_save_replaces_the_same_id_and_the_named_ones_together(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "p.db")
    store.save(1, _profile(1))
    store.save(1, _profile(2))
    store.save(1, _profile(1, Decimal("8")))  # same id: overwritten
    store.save(1, _profile(5), replaces=[2])
    assert [(s.profile["charging_profile_id"], _limit(s)) for s in store.load()] == [(1, 8.0), (5, 16.0)]


def test_delete_and_unknown_ids(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "p.db")
    store.save(1, _profile(1))
    store.save(1, _profile(2))
    store.delete([1, 99])
    assert [s.profile["charging_profile_id"] for s in store.load()] == [2]
    store.delete([])
    assert len(store.load()) == 1


def test_a_profile_that_cannot_be_stored_leaves_the_store_untouched(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "p.db")
    store.save(1, _profile(1))
    bad = _profile(2)
    bad["valid_from"] = object()
    with pytest.raises(TypeError):
        store.save(1, bad, replaces=[1])
    assert [(s.connector_id, s.profile["charging_profile_id"]) for s in store.load()] == [(1, 1)]


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    ProfileStore(tmp_path / "p.db").close()
    with sqlite3.connect(tmp_path / "p.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
