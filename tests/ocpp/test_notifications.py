"""StatusNotification rules (pure): every change, MinimumStatusDuration, connector 0."""

from __future__ import annotations

import random

from evnetd.ocpp.connection import Backoff, Endpoint
from evnetd.ocpp.notifications import ConnectorStatus, Notification, StatusReporter, charge_point_status

AVAILABLE = ConnectorStatus("Available")
PREPARING = ConnectorStatus("Preparing")
CHARGING = ConnectorStatus("Charging")
FAULTED = ConnectorStatus("Faulted", "GroundFailure", "rcd-ac")


def _tell_all(reporter: StatusReporter, now: float, minimum: float) -> list[Notification]:
    due = reporter.due(now, minimum)
    for notification in due:
        reporter.told(notification)
    return due


def test_every_change_with_zero_minimum_connector_first() -> None:
    r = StatusReporter()
    r.observe(AVAILABLE, 0.0)
    assert _tell_all(r, 0.0, 0) == [Notification(1, AVAILABLE), Notification(0, AVAILABLE)]
    r.observe(PREPARING, 1.0)
    assert _tell_all(r, 1.0, 0) == [Notification(1, PREPARING)]  # connector 0 stays Available
    r.observe(CHARGING, 1.001)
    assert _tell_all(r, 1.001, 0) == [Notification(1, CHARGING)]


def test_a_status_shorter_than_the_minimum_duration_is_skipped() -> None:
    r = StatusReporter()
    r.observe(AVAILABLE, 0.0)
    assert _tell_all(r, 5.0, 10) == []
    assert len(_tell_all(r, 10.0, 10)) == 2
    r.observe(PREPARING, 100.0)
    assert r.next_due(10) == 110.0
    assert _tell_all(r, 105.0, 10) == []
    r.observe(CHARGING, 106.0)  # Preparing lasted 6 s: never reported
    assert _tell_all(r, 115.0, 10) == []
    assert _tell_all(r, 116.0, 10) == [Notification(1, CHARGING)]
    assert r.next_due(10) is None


def test_back_to_the_told_status_sends_nothing() -> None:
    r = StatusReporter()
    r.observe(AVAILABLE, 0.0)
    _tell_all(r, 5.0, 5)
    r.observe(PREPARING, 10.0)
    r.observe(AVAILABLE, 11.0)
    assert _tell_all(r, 20.0, 5) == []


def test_faults_reach_connector_zero_and_forget_resends_everything() -> None:
    r = StatusReporter()
    r.observe(FAULTED, 0.0)
    assert _tell_all(r, 0.0, 0) == [Notification(1, FAULTED), Notification(0, FAULTED)]
    r.forget()
    assert len(_tell_all(r, 1.0, 0)) == 2


def test_connector_zero_knows_three_states() -> None:
    assert charge_point_status(CHARGING) == AVAILABLE
    assert charge_point_status(ConnectorStatus("Unavailable", "NoError", "x")) == ConnectorStatus("Unavailable")
    assert charge_point_status(FAULTED) == FAULTED


def test_backoff_doubles_with_jitter_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(7))
    delays = [backoff.next() for _ in range(8)]
    assert all(0.5 <= d <= 8.0 for d in delays)
    assert max(delays[4:]) > 2.0  # it grew
    backoff.reset()
    assert backoff.next() <= 1.0


def test_endpoint_address_and_basic_auth() -> None:
    plain = Endpoint("ws://csms.example/ocpp/", "CP 1/a")
    assert plain.address == "ws://csms.example/ocpp/CP%201%2Fa"
    assert plain.headers() == {}
    secured = Endpoint("wss://csms.example/ocpp", "CP1", security_profile=2, authorization_key="0123456789abcdef")
    assert secured.headers() == {"Authorization": "Basic Q1AxOjAxMjM0NTY3ODlhYmNkZWY="}
    assert Endpoint("wss://x", "CP1", security_profile=3, authorization_key="k" * 16).headers() == {}
