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
