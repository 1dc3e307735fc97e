"""The charger's rolling security log (OCPP 1.6 Security Whitepaper §8, use case A04).

Every security event is appended, one JSON object a line, to a file in the state directory, so
that GetLog(SecurityLog) can still upload it after a reboot. Each line is fsynced: the events
are rare, and the one written just before a power cut (ResetOrReboot, TamperDetectionActivated)
is the one that matters. The file is bounded: once it passes ``max_bytes`` it becomes
``<name>.1`` (dropping the older generation), so the log never takes more than twice the bound
on a small flash. A line cut short by a power loss is skipped when read.

This module sends nothing. :meth:`SecurityLog.record` returns the events the CSMS must be told
about, and the caller pushes them through its durable queue, because the whitepaper requires
guaranteed delivery (A04.FR.02) and the queue belongs to the OCPP daemon. The pushed set is the
whitepaper's critical list plus the certificate and signature events that OCTT TC_077, TC_078
and TC_081 wait for (libocpp sends those too).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from evnetd.ocpp.timestamps import parse_time, utc_now

CRITICAL_EVENTS = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
)
PUSHED_EVENTS = CRITICAL_EVENTS | {
    "InvalidFirmwareSignature",
    "InvalidFirmwareSigningCertificate",
    "InvalidCentralSystemCertificate",
    "InvalidChargePointCertificate",
}
TECH_INFO_MAX = 255  # SecurityEventNotification.req techInfo is a string of at most 255 characters
DEFAULT_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class SecurityEvent:
    """One entry of the log, in the shape of SecurityEventNotification.req."""

    type: str
    timestamp: datetime
    tech_info: str | None = None

    def to_json(self) -> str:
        stamp = self.timestamp.astimezone(UTC).isoformat(timespec="milliseconds")
        return json.dumps({"type": self.type, "timestamp": stamp, "techInfo": self.tech_info})

    @classmethod
    def from_json(cls, line: str) -> SecurityEvent:
        """Parse one log line; raises ValueError (or KeyError, TypeError) when it is not one."""
        data = json.loads(line)
        return cls(type=str(data["type"]), timestamp=parse_time(data["timestamp"]), tech_info=data.get("techInfo"))


class SecurityLog:
    """The JSON-lines log at ``path`` plus its one older generation ``path.1``."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        pushed: frozenset[str] = PUSHED_EVENTS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = path
        self._previous = path.with_name(path.name + ".1")
        self._max_bytes = max_bytes
        self._pushed = pushed
        self._clock = clock

    def record(self, event_type: str, tech_info: str | None = None) -> SecurityEvent | None:
        """Log an event; return it when the CSMS must get it (the caller queues it), else None."""
        event = SecurityEvent(event_type, self._clock(), tech_info[:TECH_INFO_MAX] if tech_info else None)
        self._append(event)
        return event if event_type in self._pushed else None

    def events(self, oldest: datetime | None = None, latest: datetime | None = None) -> list[SecurityEvent]:
        """The logged events, oldest first, within the inclusive bounds given."""
        return [e for e in self._read() if _within(e.timestamp, oldest, latest)]

    def export(self, dest: Path, oldest: datetime | None = None, latest: datetime | None = None) -> int:
        """Write the events within the bounds to ``dest`` as JSON lines; return how many."""
        selected = self.events(oldest, latest)
        dest.write_text("".join(e.to_json() + "\n" for e in selected), encoding="utf-8")
        return len(selected)

    def clear(self) -> SecurityEvent | None:
        """Empty the log; the first entry of the new log is SecurityLogWasCleared (returned for pushing)."""
        for path in (self._previous, self.path):
            path.unlink(missing_ok=True)
        return self.record("SecurityLogWasCleared")

    def _append(self, event: SecurityEvent) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size >= self._max_bytes:
            os.replace(self.path, self._previous)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(event.to_json() + "\n")
            out.flush()
            os.fsync(out.fileno())

    def _read(self) -> list[SecurityEvent]:
        events: list[SecurityEvent] = []
        for path in (self._previous, self.path):
            if not path.exists():
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    events.append(SecurityEvent.from_json(line))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line cut short by a power loss
        return events


def _within(moment: datetime, oldest: datetime | None, latest: datetime | None) -> bool:
    return (oldest is None or moment >= oldest) and (latest is None or moment <= latest)
