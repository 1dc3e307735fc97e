"""An authorisation before the plug: ConnectionTimeOut (OCTT TC_004_2, TC_011_2) and the
status overlays (Preparing while it waits, Reserved over an idle connector)."""

from __future__ import annotations

import pytest

from evnetd.charger.authorization import Authorizer
from evnetd.charger.pending import PendingStart, connector_status
from evnetd.iec61851.status import ConnectorStatus as S

AUTH = Authorizer.remote("app")


def test_it_waits_the_timeout_then_drops() -> None:
    pending = PendingStart(10)
    pending.hold(AUTH, 100.0)
    assert pending.deadline == 110.0
    assert pending.expire(109.999) is None and pending.auth is AUTH
    assert pending.expire(110.0) is AUTH
    assert pending.auth is None and pending.deadline is None
    assert pending.expire(200.0) is None


def test_the_ev_coming_takes_it() -> None:
    pending = PendingStart(10)
    pending.hold(AUTH, 0.0)
    assert pending.take() is AUTH and pending.expire(100.0) is None


def test_a_new_authorisation_restarts_the_wait() -> None:
    pending = PendingStart(10)
    pending.hold(AUTH, 0.0)
    other = Authorizer.remote("other")
    pending.hold(other, 8.0)
    assert pending.expire(12.0) is None and pending.expire(18.0) is other


def test_a_shorter_timeout_applies_to_the_waiting_one() -> None:
    pending = PendingStart(60)
    pending.hold(AUTH, 0.0)
    pending.timeout_s = 5
    assert pending.expire(5.0) is AUTH


@pytest.mark.parametrize("seconds", [0, -1, 3601])
def test_bad_timeouts_are_refused(seconds: int) -> None:
    with pytest.raises(ValueError, match="connection timeout"):
        PendingStart(seconds)


@pytest.mark.parametrize(
    ("core", "waiting", "reserved", "shown"),
    [
        (S.AVAILABLE, False, False, "Available"),
        (S.AVAILABLE, True, False, "Preparing"),  # authorised, no EV yet
        (S.AVAILABLE, False, True, "Reserved"),
        (S.AVAILABLE, True, True, "Preparing"),  # the reserved tag came first
        (S.PREPARING, False, True, "Reserved"),  # an EV plugged in, not the reserved tag yet
        (S.PREPARING, False, False, "Preparing"),
        (S.FAULTED, True, True, "Faulted"),
        (S.UNAVAILABLE, False, True, "Unavailable"),
        (S.CHARGING, False, False, "Charging"),
        (S.FINISHING, False, True, "Finishing"),
    ],
)
def test_status_overlays(core: S, waiting: bool, reserved: bool, shown: str) -> None:
    assert connector_status(core, waiting_for_plug=waiting, reserved=reserved) == shown
