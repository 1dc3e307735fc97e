"""OCPP 1.6 Smart Charging core: which current the CSMS allows us, now and over time.

The CSMS steers the charger with charging profiles (SetChargingProfile) and checks what we
will draw with GetCompositeSchedule. Both rest on one function of time: the limit in force
on a connector at instant t. Keeping it pure (a fake clock in, numbers out) is what lets the
OCTT and EVerest cases be tested to the second. The rules (OCPP 1.6 §3.13, §5.7, §5.16 and
errata; research notes ``reference/ocpp16.md`` §6.6–6.8; DESIGN.md §10.1–10.3):

* Purposes. ChargePointMaxProfile (connector 0 only) caps the whole charger. On a connector
  the TxProfile of its running transaction applies, otherwise the TxDefaultProfile; a
  TxDefault on connector 0 serves every connector. The limit is the minimum of the two.
* Stacking. Within a purpose, the valid profile (validFrom ≤ t < validTo) with the highest
  stackLevel that has a period at t wins; when it has none (not started, schedule ended,
  recurrence shorter than its cycle) the next lower one applies, and when a TxProfile has
  none the TxDefault applies again (libocpp, DESIGN §10.1). At equal stackLevel a
  connector's own TxDefault beats the connector-0 one.
* Time. Absolute schedules start at startSchedule, Recurring ones restart every day or
  week from it (and not before it), Relative ones at the transaction start, or, without a
  transaction, at the moment asked about (as if charging started then).
* Units. Internally everything is amps per phase: W → A divides by supply voltage × phases
  (the period's numberPhases, else ``default_phases``, DESIGN §10.3). An A limit applies as
  given whatever numberPhases says (errata 3.34). Our single phase reports 1 phase.
* Gaps. Where no profile says anything the composite shows the charger's own limit
  (OCTT TC_067); ``limit_at`` answers None so the caller applies no OCPP limit at all.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any, TypeVar

from evnetd.ocpp.profiles import ProfileStore

log = logging.getLogger(__name__)
_T = TypeVar("_T")

CHARGE_POINT_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX_PROFILE = "TxProfile"
ABSOLUTE = "Absolute"
RECURRING = "Recurring"
RELATIVE = "Relative"
_RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}
_UNITS = ("A", "W")
REPORTED_PHASES = 1  # the charger is wired single-phase: the composite says so, and W = A × V × 1
_EDGE_HORIZON = timedelta(days=7, seconds=1)  # covers one full weekly cycle when looking for the next change


class ProfileError(ValueError):
    """A charging profile we cannot accept; the message says why."""


@dataclass(frozen=True, slots=True)
class ActiveTransaction:
    transaction_id: int
    started_at: datetime  # aware UTC


@dataclass(frozen=True, slots=True)
class SmartChargingSettings:
    max_stack_level: int = 8  # ChargeProfileMaxStackLevel
    max_profiles: int = 16  # MaxChargingProfilesInstalled
    max_periods: int = 24  # ChargingScheduleMaxPeriods
    allowed_units: tuple[str, ...] = ("A", "W")  # ChargingScheduleAllowedChargingRateUnit Current,Power
    supply_voltage_v: float = 230.0  # vendor key SupplyVoltage (DESIGN §10.3)
    default_phases: int = 1  # when a W profile has no numberPhases (DESIGN §10.3)
    local_limit_a: float = 32.0  # the charger's own maximum: fills gaps, shown when no profile applies
    connectors: int = 1


@dataclass(frozen=True, slots=True)
class Period:
    start_s: float  # from the start of the schedule
    limit: float  # in the schedule's unit
    number_phases: int | None


@dataclass(frozen=True, slots=True)
class Schedule:
    unit: str
    periods: tuple[Period, ...]
    duration_s: float | None = None
    start: datetime | None = None
    min_charging_rate: float | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    profile_id: int
    stack_level: int
    purpose: str
    kind: str
    schedule: Schedule
    transaction_id: int | None = None
    recurrency_kind: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    @property
    def recurrence(self) -> timedelta | None:
        if self.kind != RECURRING or self.recurrency_kind is None:
            return None
        return _RECURRENCE[self.recurrency_kind]

    @property
    def length_s(self) -> float | None:
        """How long one run of the schedule lasts (None: for ever); a recurrence caps it at its cycle."""
        cycle = self.recurrence
        if cycle is None:
            return self.schedule.duration_s
        if self.schedule.duration_s is None:
            return cycle.total_seconds()
        return min(self.schedule.duration_s, cycle.total_seconds())

    def valid_at(self, t: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= t) and (self.valid_to is None or t < self.valid_to)

    def run_start(self, t: datetime, anchor: datetime) -> datetime:
        """Where the run of the schedule that covers ``t`` began; ``anchor`` is the start of a Relative one."""
        origin = self.schedule.start
        if self.kind == RELATIVE or origin is None:
            return anchor
        cycle = self.recurrence
        if cycle is None or t < origin:
            return origin
        return origin + cycle * ((t - origin) // cycle)

    def period_at(self, t: datetime, anchor: datetime) -> Period | None:
        """The period in force at ``t``; None when the profile says nothing then."""
        if not self.valid_at(t):
            return None
        offset = (t - self.run_start(t, anchor)).total_seconds()
        length = self.length_s
        if offset < 0 or (length is not None and offset >= length):
            return None
        started = [p for p in self.schedule.periods if p.start_s <= offset]
        return started[-1] if started else None

    def edges(self, anchor: datetime, lo: datetime, hi: datetime) -> Iterator[datetime]:
        """Instants where what this profile says may change; recurring runs only between ``lo`` and ``hi``."""
        yield from (t for t in (self.valid_from, self.valid_to) if t is not None)
        for start in self._run_starts(anchor, lo, hi):
            yield from (start + timedelta(seconds=p.start_s) for p in self.schedule.periods)
            if self.length_s is not None:
                yield start + timedelta(seconds=self.length_s)

    def _run_starts(self, anchor: datetime, lo: datetime, hi: datetime) -> Iterator[datetime]:
        first = self.run_start(lo, anchor)
        cycle = self.recurrence
        if cycle is None:
            yield first
            return
        start = first
        while start <= hi:
            yield start
            start += cycle


@dataclass(frozen=True, slots=True)
class InstalledProfile:
    connector_id: int
    profile: ChargingProfile
    raw: dict[str, Any]  # as received, with the transaction id filled in when we bound it


# --- parsing: the library's snake_case dict → ChargingProfile ------------------------------------------------


def parse_profile(raw: Mapping[str, Any]) -> ChargingProfile:
    """Read a profile as ``ocpp`` 2.1.0 hands it over; ProfileError when a field is missing or mistyped."""
    try:
        return ChargingProfile(
            profile_id=_integer(raw["charging_profile_id"]),
            stack_level=_integer(raw["stack_level"]),
            purpose=_choice(raw, "charging_profile_purpose", (CHARGE_POINT_MAX, TX_DEFAULT, TX_PROFILE)),
            kind=_choice(raw, "charging_profile_kind", (ABSOLUTE, RECURRING, RELATIVE)),
            schedule=_parse_schedule(raw["charging_schedule"]),
            transaction_id=_optional(raw.get("transaction_id"), _integer),
            recurrency_kind=_choice(raw, "recurrency_kind", tuple(_RECURRENCE)) if "recurrency_kind" in raw else None,
            valid_from=_optional(raw.get("valid_from"), parse_time),
            valid_to=_optional(raw.get("valid_to"), parse_time),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProfileError(f"malformed profile: {exc!r}") from exc


def _parse_schedule(raw: Mapping[str, Any]) -> Schedule:
    periods = tuple(
        Period(_number(p["start_period"]), _number(p["limit"]), _optional(p.get("number_phases"), _integer))
        for p in raw["charging_schedule_period"]
    )
    return Schedule(
        unit=_choice(raw, "charging_rate_unit", _UNITS),
        periods=periods,
        duration_s=_optional(raw.get("duration"), _number),
        start=_optional(raw.get("start_schedule"), parse_time),
        min_charging_rate=_optional(raw.get("min_charging_rate"), _number),
    )


def parse_time(text: str) -> datetime:
    """ISO 8601 with "Z", an offset or none (read as UTC, as some CSMSs send it), fractions allowed."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ProfileError(f"bad timestamp {text!r}") from exc
    return _utc(value)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ProfileError(f"{value!r} is not a number")
    if not math.isfinite(value):
        raise ProfileError(f"{value!r} is not finite")
    return float(value)


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(f"{value!r} is not an integer")
    return value


def _optional(value: Any, convert: Callable[[Any], _T]) -> _T | None:
    return None if value is None else convert(value)


def _choice(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = raw[key]
    if value not in allowed:
        raise ProfileError(f"{key} {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _problems(connector_id: int, profile: ChargingProfile, settings: SmartChargingSettings) -> Iterator[str]:
    """Why ``profile`` cannot go on ``connector_id`` (libocpp's ``validate_profile`` rules), first reason first."""
    if not 0 <= connector_id <= settings.connectors:
        yield f"connector {connector_id} does not exist"
    if not 0 <= profile.stack_level <= settings.max_stack_level:
        yield f"stack level {profile.stack_level} outside 0..{settings.max_stack_level}"
    if profile.purpose == CHARGE_POINT_MAX and (connector_id != 0 or profile.kind == RELATIVE):
        yield "a ChargePointMaxProfile goes on connector 0 and is not Relative"
    if profile.purpose == TX_PROFILE and connector_id == 0:
        yield "a TxProfile never goes on connector 0"
    if profile.kind != RELATIVE and profile.schedule.start is None:
        yield f"a {profile.kind} profile needs start_schedule"
    if profile.kind == RECURRING and profile.recurrency_kind is None:
        yield "a Recurring profile needs recurrency_kind"
    if profile.valid_from and profile.valid_to and profile.valid_from >= profile.valid_to:
        yield "valid_to is not after valid_from"
    yield from _schedule_problems(profile.schedule, settings)


def _schedule_problems(schedule: Schedule, settings: SmartChargingSettings) -> Iterator[str]:
    if schedule.unit not in settings.allowed_units:
        yield f"charging rate unit {schedule.unit} not allowed"
    if not 1 <= len(schedule.periods) <= settings.max_periods:
        yield f"{len(schedule.periods)} periods, allowed 1..{settings.max_periods}"
    starts = [p.start_s for p in schedule.periods]
    if starts[:1] != [0] or any(a >= b for a, b in pairwise(starts)):
        yield "start periods must begin at 0 and increase"
    if any(p.limit < 0 for p in schedule.periods):
        yield "negative limit"
    if any(p.number_phases is not None and not 1 <= p.number_phases <= 3 for p in schedule.periods):
        yield "number_phases outside 1..3"
    if (schedule.duration_s or 0) < 0 or (schedule.min_charging_rate or 0) < 0:
        yield "negative duration or min_charging_rate"


@dataclass(frozen=True, slots=True)
class _Stacks:
    """The profiles that bear on one connector, each purpose ordered best first."""

    charge_point_max: tuple[ChargingProfile, ...] = ()
    tx: tuple[ChargingProfile, ...] = ()
    tx_default: tuple[ChargingProfile, ...] = ()

    def profiles(self) -> Iterator[ChargingProfile]:
        yield from self.charge_point_max
        yield from self.tx
        yield from self.tx_default


def _ranked(entries: Iterable[InstalledProfile]) -> tuple[ChargingProfile, ...]:
    """Highest stack level first; at equal level a connector's own profile before the connector-0 one."""
    ordered = sorted(entries, key=lambda e: (-e.profile.stack_level, e.connector_id == 0))
    return tuple(e.profile for e in ordered)


class SmartCharging:
    """The charger's installed profiles, what they allow, and the OCPP answers about them.

    Every change is written to the ProfileStore before it takes effect in memory, so what
    the CSMS was told Accepted is what a restart finds.
    """

    def __init__(self, store: ProfileStore, settings: SmartChargingSettings) -> None:
        self._store = store
        self._settings = settings
        self._installed: dict[int, InstalledProfile] = {}
        self._pending: dict[int, InstalledProfile] = {}  # RemoteStart TxProfiles waiting for their transaction
        for stored in store.load():
            try:
                profile = parse_profile(stored.profile)
            except ProfileError as exc:
                log.warning("ignoring stored charging profile %s: %s", stored.profile.get("charging_profile_id"), exc)
                continue
            self._installed[profile.profile_id] = InstalledProfile(stored.connector_id, profile, stored.profile)

    @property
    def installed(self) -> list[InstalledProfile]:
        """The profiles in force (pending RemoteStart TxProfiles not included), by id."""
        return [self._installed[i] for i in sorted(self._installed)]

    def set_profile(
        self,
        connector_id: int,
        profile: dict[str, Any],
        transaction: ActiveTransaction | None,
        now: datetime,
        *,
        from_remote_start: bool = False,
    ) -> str:
        """SetChargingProfile (or the profile of a RemoteStartTransaction): 'Accepted' or 'Rejected'.

        A TxProfile needs the running transaction; without a transaction_id it is bound to it.
        With ``from_remote_start`` only a TxProfile is taken, kept pending until bind_transaction.
        """
        try:
            parsed = self._admit(connector_id, parse_profile(profile), transaction, _utc(now), from_remote_start)
        except ProfileError as exc:
            log.info("charging profile %s rejected: %s", profile.get("charging_profile_id"), exc)
            return "Rejected"
        entry = InstalledProfile(connector_id, parsed, _with_transaction(profile, parsed.transaction_id))
        if from_remote_start:
            self._pending[parsed.profile_id] = entry
        else:
            self._install(entry)
        return "Accepted"

    def bind_transaction(self, transaction: ActiveTransaction) -> None:
        """The transaction a RemoteStart asked for has started: its TxProfile now applies to it."""
        pending, self._pending = list(self._pending.values()), {}
        for entry in pending:
            txid = transaction.transaction_id
            profile = replace(entry.profile, transaction_id=txid)
            self._install(InstalledProfile(entry.connector_id, profile, _with_transaction(entry.raw, txid)))

    def discard_pending(self) -> None:
        """The RemoteStart did not lead to a transaction: forget its TxProfile."""
        self._pending.clear()

    def end_transaction(self, transaction_id: int) -> None:
        """A transaction ended: its TxProfiles go (OCPP 1.6 §3.13.1)."""
        self._remove(
            e.profile.profile_id
            for e in self._installed.values()
            if e.profile.purpose == TX_PROFILE and e.profile.transaction_id == transaction_id
        )

    def clear(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> str:
        """ClearChargingProfile: by id if given, else every profile matching all given criteria ('Unknown': none)."""
        victims = [
            e.profile.profile_id
            for e in self._entries()
            if (
                e.profile.profile_id == profile_id
                if profile_id is not None
                else _matches(e, connector_id, purpose, stack_level)
            )
        ]
        if not victims:
            return "Unknown"
        self._remove(victims)
        return "Accepted"

    def composite(
        self,
        connector_id: int,
        duration_s: int,
        unit: str | None,
        now: datetime,
        transaction: ActiveTransaction | None,
    ) -> dict[str, Any] | None:
        """GetCompositeSchedule's ``charging_schedule`` from now (floored to the second) for ``duration_s``.

        None means Rejected: unknown connector, a unit not allowed, a negative duration.
        """
        settings = self._settings
        unit = unit or settings.allowed_units[0]
        if not 0 <= connector_id <= settings.connectors or unit not in settings.allowed_units or duration_s < 0:
            return None
        now = _utc(now)
        start = now.replace(microsecond=0)
        anchor = _utc(transaction.started_at) if transaction else start
        stacks = self._stacks(connector_id, transaction)
        periods: list[dict[str, Any]] = []
        for offset in self._offsets(stacks, anchor, start, duration_s):
            amps = self._limit(stacks, max(start + timedelta(seconds=offset), now), anchor)
            limit = round(self._from_amps(settings.local_limit_a if amps is None else amps, unit), 1)
            if not periods or periods[-1]["limit"] != limit:
                periods.append({"start_period": offset, "limit": limit, "number_phases": REPORTED_PHASES})
        return {
            "duration": duration_s,
            "start_schedule": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "charging_rate_unit": unit,
            "charging_schedule_period": periods,
        }

    def limit_at(self, now: datetime, transaction: ActiveTransaction | None) -> tuple[float | None, datetime | None]:
        """Amps the profiles allow on connector 1 at ``now`` (None: no profile applies; 0: suspend),
        and the next instant that may change (None: never)."""
        now = _utc(now)
        anchor = _utc(transaction.started_at) if transaction else now
        stacks = self._stacks(1, transaction)
        later = [e for p in stacks.profiles() for e in p.edges(anchor, now, now + _EDGE_HORIZON) if e > now]
        return self._limit(stacks, now, anchor), min(later, default=None)

    # --- admission ---------------------------------------------------------------------------------------------

    def _admit(
        self,
        connector_id: int,
        profile: ChargingProfile,
        transaction: ActiveTransaction | None,
        now: datetime,
        from_remote_start: bool,
    ) -> ChargingProfile:
        """``profile`` as it will be installed, or ProfileError."""
        problem = next(_problems(connector_id, profile, self._settings), None)
        if problem is not None:
            raise ProfileError(problem)
        profile = _for_transaction(profile, transaction, from_remote_start)
        self._purge_expired(now)
        kept = len(self._installed) + len(self._pending) - len(self._replaced(connector_id, profile))
        if kept >= self._settings.max_profiles:
            raise ProfileError(f"{self._settings.max_profiles} profiles installed already")
        return profile

    def _purge_expired(self, now: datetime) -> None:
        self._remove(e.profile.profile_id for e in self._entries() if e.profile.valid_to and e.profile.valid_to <= now)

    def _replaced(self, connector_id: int, profile: ChargingProfile) -> set[int]:
        """Ids a new profile replaces: its own id anywhere, and its purpose + stack level on its connector."""
        return {
            e.profile.profile_id
            for e in self._entries()
            if e.profile.profile_id == profile.profile_id
            or (
                e.connector_id == connector_id
                and e.profile.purpose == profile.purpose
                and e.profile.stack_level == profile.stack_level
            )
        }

    def _install(self, entry: InstalledProfile) -> None:
        replaced = self._replaced(entry.connector_id, entry.profile)
        self._store.save(entry.connector_id, entry.raw, replaces=replaced)
        for profile_id in replaced:
            self._installed.pop(profile_id, None)
            self._pending.pop(profile_id, None)
        self._installed[entry.profile.profile_id] = entry

    def _remove(self, profile_ids: Iterable[int]) -> None:
        doomed = set(profile_ids)
        if doomed:
            self._store.delete(doomed)
        for profile_id in doomed:
            self._installed.pop(profile_id, None)
            self._pending.pop(profile_id, None)

    def _entries(self) -> Iterator[InstalledProfile]:
        yield from self._installed.values()
        yield from self._pending.values()

    # --- evaluation --------------------------------------------------------------------------------------------

    def _stacks(self, connector_id: int, transaction: ActiveTransaction | None) -> _Stacks:
        entries = list(self._installed.values())
        charge_point_max = _ranked(e for e in entries if e.profile.purpose == CHARGE_POINT_MAX)
        if connector_id == 0:
            return _Stacks(charge_point_max)
        txid = transaction.transaction_id if transaction else None
        tx = _ranked(
            e
            for e in entries
            if e.profile.purpose == TX_PROFILE
            and e.connector_id == connector_id
            and txid is not None
            and e.profile.transaction_id == txid
        )
        tx_default = _ranked(
            e for e in entries if e.profile.purpose == TX_DEFAULT and e.connector_id in (0, connector_id)
        )
        return _Stacks(charge_point_max, tx, tx_default)

    def _limit(self, stacks: _Stacks, t: datetime, anchor: datetime) -> float | None:
        """Amps at ``t``: min(ChargePointMax, TxProfile else TxDefault); None when no profile speaks."""
        own = self._top(stacks.tx, t, anchor)
        if own is None:
            own = self._top(stacks.tx_default, t, anchor)
        present = [a for a in (self._top(stacks.charge_point_max, t, anchor), own) if a is not None]
        return min(present, default=None)

    def _top(self, ranked: tuple[ChargingProfile, ...], t: datetime, anchor: datetime) -> float | None:
        for profile in ranked:
            period = profile.period_at(t, anchor)
            if period is not None:
                return self._to_amps(period, profile.schedule.unit)
        return None

    @staticmethod
    def _offsets(stacks: _Stacks, anchor: datetime, start: datetime, duration_s: int) -> list[int]:
        """Whole seconds from ``start`` where the composite may change: each edge rounded up, so the
        sample taken there already sees the new value."""
        end = start + timedelta(seconds=duration_s)
        edges = (e for profile in stacks.profiles() for e in profile.edges(anchor, start, end))
        return sorted({0} | {o for o in (math.ceil((e - start).total_seconds()) for e in edges) if 0 < o < duration_s})

    def _to_amps(self, period: Period, unit: str) -> float:
        if unit == "A":
            return period.limit
        phases = period.number_phases or self._settings.default_phases
        return period.limit / (self._settings.supply_voltage_v * phases)

    def _from_amps(self, amps: float, unit: str) -> float:
        return amps if unit == "A" else amps * self._settings.supply_voltage_v * REPORTED_PHASES


def _with_transaction(raw: dict[str, Any], transaction_id: int | None) -> dict[str, Any]:
    """A copy of ``raw`` carrying the transaction id we bound it to (absent when there is none)."""
    copy = {k: v for k, v in raw.items() if k != "transaction_id"}
    return copy if transaction_id is None else copy | {"transaction_id": transaction_id}


def _matches(entry: InstalledProfile, connector_id: int | None, purpose: str | None, stack_level: int | None) -> bool:
    """ClearChargingProfile's criteria: each one given must match."""
    return (
        connector_id in (None, entry.connector_id)
        and purpose in (None, entry.profile.purpose)
        and stack_level in (None, entry.profile.stack_level)
    )


def _for_transaction(
    profile: ChargingProfile, transaction: ActiveTransaction | None, from_remote_start: bool
) -> ChargingProfile:
    """Apply the TxProfile ↔ transaction rules; returns the profile bound to its transaction."""
    if from_remote_start:
        if profile.purpose != TX_PROFILE:
            raise ProfileError("RemoteStartTransaction carries only a TxProfile")
        return replace(profile, transaction_id=None)
    if profile.purpose != TX_PROFILE:
        return profile
    if transaction is None:
        raise ProfileError("a TxProfile needs a running transaction")
    if profile.transaction_id not in (None, transaction.transaction_id):
        raise ProfileError(f"transaction {profile.transaction_id} is not the running one")
    return replace(profile, transaction_id=transaction.transaction_id)
