"""Sessions on disk: start, refresh rules, stop reasons, the open session after a crash."""

from __future__ import annotations

from pathlib import Path

from evnetd.charger.sessions import REFRESH_WH, SessionStore


def test_a_session_survives_reopening_and_closes_with_its_reason(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    session = store.start("04A1B2C3", 100.0)
    session = store.refresh(session, 100.0 + REFRESH_WH / 2)  # not due: nothing written
    assert session.last_wh == 100.0
    session = store.refresh(session, 100.0 + REFRESH_WH)
    assert session.last_wh == 100.0 + REFRESH_WH
    store.close()  # a crash: the row stays open

    again = SessionStore(tmp_path / "s.db")
    found = again.open_session()
    assert found is not None and found.id == session.id and found.last_wh == 100.0 + REFRESH_WH
    closed = again.stop(found, None, "PowerLoss")  # power loss: the last stored reading counts
    assert closed.stop_reason == "PowerLoss" and closed.energy_wh == REFRESH_WH
    assert again.open_session() is None
    assert again.recent(5)[0].stop_reason == "PowerLoss"


def test_the_reading_never_goes_backwards(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    session = store.save_reading(store.start("FREE", 50.0), 60.0)
    assert store.save_reading(session, 55.0).last_wh == 60.0
    assert store.stop(session, 58.0, "Local").energy_wh == 10.0


def test_reservation_and_transaction_ids_are_stored(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    plain = store.start("FREE", 0.0)
    reserved = store.start("04A1B2C3", 10.0, reservation_id=17)
    assert plain.reservation_id is None and reserved.reservation_id == 17
    store.stop(reserved, 12.5, "Local")
    store.set_transaction_id(reserved, 4711)  # StartTransaction.conf after the stop (offline queue)
    found = store.get(reserved.id)
    assert found is not None
    assert (found.reservation_id, found.transaction_id, found.last_wh) == (17, 4711, 12.5)
    assert store.get(999) is None


def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    """A charger updated from the release without reservations keeps its sessions."""
    import sqlite3

    from evnetd.charger.sessions import _MIGRATIONS
    from evnetd.runtime.storage import open_database

    old = open_database(tmp_path / "s.db", _MIGRATIONS[:1])
    old.execute("INSERT INTO sessions (id_tag, started_at, start_wh, last_wh, last_at) VALUES ('A', 1, 2, 3, 4)")
    old.close()
    store = SessionStore(tmp_path / "s.db")
    (kept,) = store.recent(5)
    assert (kept.id_tag, kept.energy_wh, kept.reservation_id) == ("A", 1.0, None)
    version = sqlite3.connect(tmp_path / "s.db").execute("PRAGMA user_version").fetchone()[0]
    assert version == len(_MIGRATIONS) == 2
