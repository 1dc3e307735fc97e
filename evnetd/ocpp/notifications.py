"""Which StatusNotifications to send, and when (OCPP 1.6 §4.9; reference/ocpp16.md §6.9).

Pure: the service feeds it the charger's status as it changes and asks what is due at
``now``. Rules it keeps:

- every change is reported (errata 3.19), but a status that lasted less than
  ``MinimumStatusDuration`` is skipped: each change restarts a per-connector timer and
  only the status still current when it fires goes out (as libocpp does);
- after a reconnect only the current status is sent, and only if it differs from what
  the CSMS last heard (no history replay); after every accepted boot, connector 0 and
  the connector are both reported (errata 3.22);
- connector 0 (the charge point itself) knows only Available, Unavailable and Faulted.
"""

from __future__ import annotations

from dataclasses import dataclass

CONNECTOR_ZERO_STATES = ("Available", "Unavailable", "Faulted")


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    status: str
    error_code: str = "NoError"
    info: str = ""


@dataclass(frozen=True, slots=True)
class Notification:
    connector_id: int
    status: ConnectorStatus


def charge_point_status(connector: ConnectorStatus) -> ConnectorStatus:
    """Connector 0 mirrors the connector as far as its three states allow."""
    if connector.status == "Faulted":
        return connector
    if connector.status == "Unavailable":
        return ConnectorStatus("Unavailable")
    return ConnectorStatus("Available")


class StatusReporter:
    """Debounces the connector's status and remembers what the CSMS was told."""

    def __init__(self) -> None:
        self._current: dict[int, ConnectorStatus] = {}
        self._changed_at: dict[int, float] = {}
        self._told: dict[int, ConnectorStatus] = {}

    def observe(self, connector: ConnectorStatus, now: float) -> None:
        """The charger's status (connector 1); connector 0 follows it."""
        for connector_id, status in ((1, connector), (0, charge_point_status(connector))):
            if self._current.get(connector_id) != status:
                self._current[connector_id] = status
                self._changed_at[connector_id] = now

    def due(self, now: float, minimum_duration_s: float) -> list[Notification]:
        """Statuses that have lasted long enough and differ from what was told."""
        out = []
        for connector_id in sorted(self._current, reverse=True):  # the connector before the charge point
            status = self._current[connector_id]
            if self._told.get(connector_id) == status:
                continue
            if now - self._changed_at[connector_id] >= minimum_duration_s:
                out.append(Notification(connector_id, status))
        return out

    def next_due(self, minimum_duration_s: float) -> float | None:
        """When the next pending status will be due (None: nothing pending)."""
        pending = [
            self._changed_at[c] + minimum_duration_s
            for c, status in self._current.items()
            if self._told.get(c) != status
        ]
        return min(pending) if pending else None

    def told(self, notification: Notification) -> None:
        """The CSMS acknowledged ``notification``."""
        self._told[notification.connector_id] = notification.status

    def forget(self) -> None:
        """A new boot was accepted: report everything again."""
        self._told.clear()

    def current(self, connector_id: int) -> ConnectorStatus | None:
        return self._current.get(connector_id)
