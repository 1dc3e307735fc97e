"""OCPP timestamps: always UTC with a "Z" going out, any ISO 8601 offset accepted coming in.

The library checks no date-time formats (reference/ocpp16.md §1.8, pitfall 10), so this
is the one place that decides how ours look.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds: what every CSMS parses)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with "Z", an offset or none (taken as UTC), as an aware UTC datetime."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_optional_time(text: str | None) -> datetime | None:
    """``parse_time`` for an optional field: absent or empty is None."""
    return parse_time(text) if text else None
