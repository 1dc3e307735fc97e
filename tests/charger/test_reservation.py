"""Reservations: the ReserveNow answers (OCTT TC_048), who may use one (TC_046, TC_053),
replacing, cancelling (TC_051/052), expiry (TC_047), persistence."""

from __future__ import annotations

import pytest

from evnetd.charger.reservation import (
    ConnectorState,
    Reservation,
    ReservationBook,
    ReserveStatus,
)

NOW = 1_800_000_000.0
IDLE = ConnectorState(faulted=False, available=True, occupied=False)
R1 = Reservation(1, "tag1", "parent-p", NOW + 600)


@pytest.mark.parametrize(
    ("connector", "expiry", "answer"),
    [
        (IDLE, NOW + 600, ReserveStatus.ACCEPTED),
        (ConnectorState(faulted=True, available=True, occupied=False), NOW + 600, ReserveStatus.FAULTED),
        (ConnectorState(faulted=False, available=False, occupied=False), NOW + 600, ReserveStatus.UNAVAILABLE),
        (ConnectorState(faulted=False, available=True, occupied=True), NOW + 600, ReserveStatus.OCCUPIED),
        (ConnectorState(faulted=True, available=False, occupied=True), NOW + 600, ReserveStatus.FAULTED),
        (IDLE, NOW, ReserveStatus.REJECTED),  # over at once: nothing to keep
        (IDLE, float("nan"), ReserveStatus.REJECTED),
    ],
)
def test_reserve_answers_follow_the_connector(connector: ConnectorState, expiry: float, answer: ReserveStatus) -> None:
    book = ReservationBook()
    assert book.reserve(Reservation(1, "tag1", "", expiry), connector, NOW) is answer
    assert (book.current is not None) is (answer is ReserveStatus.ACCEPTED)


def test_the_same_id_replaces_another_id_is_occupied() -> None:
    book = ReservationBook()
    assert book.reserve(R1, IDLE, NOW) is ReserveStatus.ACCEPTED
    assert book.reserve(Reservation(1, "tag2", "", NOW + 900), IDLE, NOW) is ReserveStatus.ACCEPTED
    assert book.current == Reservation(1, "TAG2", "", NOW + 900)
    assert book.reserve(Reservation(2, "tag1", "", NOW + 900), IDLE, NOW) is ReserveStatus.OCCUPIED
    assert book.current is not None and book.current.reservation_id == 1


@pytest.mark.parametrize(
    ("tag", "parent", "admitted"),
    [
        ("tag1", "", True),  # the reserved tag (any case: UIDs are compared upper-case)
        ("TAG1", "other", True),
        ("tag2", "parent-p", True),  # another tag of the same parent (TC_053)
        ("tag2", "PARENT-P", True),
        ("tag2", "", False),
        ("tag2", "other", False),
        ("parent-p", "", False),  # the parent string itself is not a tag of it
    ],
)
def test_who_may_use_a_reservation(tag: str, parent: str, admitted: bool) -> None:
    book = ReservationBook()
    book.reserve(R1, IDLE, NOW)
    assert book.admits(tag, parent) is admitted
    used = book.use(tag, parent)
    assert (used is not None) is admitted
    assert (book.current is None) is admitted  # consumed only by a session it admits


def test_an_empty_parent_matches_no_one() -> None:
    book = ReservationBook()
    book.reserve(Reservation(3, "tag1", "", NOW + 60), IDLE, NOW)
    assert not book.admits("tag2", "")


def test_without_a_reservation_everyone_is_admitted() -> None:
    book = ReservationBook()
    assert book.admits("anyone") and book.use("anyone") is None


def test_cancel_unknown_keeps_it_known_ends_it() -> None:
    book = ReservationBook()
    book.reserve(R1, IDLE, NOW)
    assert book.cancel(2) is None and book.current is not None
    cancelled = book.cancel(1)
    assert cancelled is not None and cancelled.reservation_id == 1 and book.current is None


def test_expiry() -> None:
    book = ReservationBook()
    book.reserve(R1, IDLE, NOW)
    assert book.expire(R1.expiry - 0.001) is None
    ended = book.expire(R1.expiry)
    assert ended is not None and ended.reservation_id == 1 and book.current is None
    assert book.expire(R1.expiry + 1) is None  # ends once


def test_it_survives_a_restart_as_json() -> None:
    book = ReservationBook()
    book.reserve(R1, IDLE, NOW)
    assert book.current is not None
    assert Reservation.from_json(book.current.to_json()) == book.current
