"""MeterValues for OCPP 1.6: when to sample, how a sample is written, and what StopTransaction carries.

Pure: the caller passes the time and the meter's reading, so sampling goes on offline
(OCTT TC_036) and every sample is stamped with the time it was taken, whenever it is
finally sent. Payloads are snake_case dicts for ``ocpp.v16.call.*``, which converts them
to camelCase; values are strings and units are the ones the 1.6 schemas allow
(§3.16, ocpp16.md 6.3). Energy is the meter's register rounded down to whole Wh, so the
reported values never run ahead of the register and agree with meterStart/meterStop.

The charger is single-phase: currents are phase L1, the voltage L1-N, everything is
measured at the Outlet except the board temperature (Body).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evnetd.ocpp.timestamps import iso

PERIODIC = "Sample.Periodic"
CLOCK = "Sample.Clock"
REGISTER = "Energy.Active.Import.Register"
INTERVAL = "Energy.Active.Import.Interval"
NOMINAL_VOLTAGE_V = 230.0  # Power.Offered = offered current at the nominal voltage, as the composite schedule converts
DAY_S = 86_400
TRANSACTION_DATA_CAPACITY = 1_000  # meter values kept per transaction before thinning (keeps the JSON small)


@dataclass(frozen=True, slots=True)
class Reading:
    """One snapshot of the meter/charger D-Bus properties; NaN where the meter has no value."""

    energy_wh: float
    power_w: float
    current_a: float
    voltage_v: float
    frequency_hz: float
    temperature_c: float
    offered_a: float
    power_factor: float


@dataclass(frozen=True, slots=True)
class _Measurand:
    quantity: Callable[[Reading], float]
    unit: str | None  # 1.6 has no unit for frequency or power factor
    decimals: int
    phase: str | None = None
    location: str = "Outlet"


_MEASURANDS: dict[str, _Measurand] = {
    REGISTER: _Measurand(lambda r: r.energy_wh, "Wh", 0),
    INTERVAL: _Measurand(lambda r: r.energy_wh, "Wh", 0),  # minus the interval's start, see _value
    "Power.Active.Import": _Measurand(lambda r: r.power_w, "W", 0),
    "Current.Import": _Measurand(lambda r: r.current_a, "A", 2, phase="L1"),
    "Voltage": _Measurand(lambda r: r.voltage_v, "V", 1, phase="L1-N"),
    "Frequency": _Measurand(lambda r: r.frequency_hz, None, 2),
    "Temperature": _Measurand(lambda r: r.temperature_c, "Celsius", 1, location="Body"),
    "Current.Offered": _Measurand(lambda r: r.offered_a, "A", 1),
    "Power.Offered": _Measurand(lambda r: r.offered_a * NOMINAL_VOLTAGE_V, "W", 0),
    "Power.Factor": _Measurand(lambda r: r.power_factor, None, 3),
}

SUPPORTED_MEASURANDS = frozenset(_MEASURANDS)


def parse_measurands(csl: str) -> tuple[str, ...]:
    """A measurand CSL configuration value; ValueError names the first unsupported one (§3.16.4)."""
    measurands = tuple(item.strip() for item in csl.split(",") if item.strip())
    for measurand in measurands:
        if measurand not in SUPPORTED_MEASURANDS:
            raise ValueError(f"unsupported measurand {measurand!r}")
    return measurands


def sampled_value(
    measurand: str, reading: Reading, context: str, interval_start_wh: float | None = None
) -> dict[str, Any]:
    """One sampledValue (snake_case). ValueError if the measurand is unsupported or has no value now.

    ``interval_start_wh`` is the register at the start of the interval, for Energy.Active.Import.Interval.
    """
    spec = _MEASURANDS.get(measurand)
    if spec is None:
        raise ValueError(f"unsupported measurand {measurand!r}")
    value = _value(measurand, spec, reading, interval_start_wh)
    if value is None:
        raise ValueError(f"no value for {measurand} in this reading")
    return _sampled(measurand, spec, value, context)


def meter_value(
    timestamp: datetime,
    reading: Reading,
    measurands: Sequence[str],
    context: str,
    interval_start_wh: float | None = None,
) -> dict[str, Any]:
    """One MeterValue (snake_case) with a sampledValue per measurand the reading has a value for."""
    values: list[dict[str, Any]] = []
    for measurand in measurands:
        spec = _MEASURANDS.get(measurand)
        if spec is None:
            raise ValueError(f"unsupported measurand {measurand!r}")
        value = _value(measurand, spec, reading, interval_start_wh)
        if value is not None:
            values.append(_sampled(measurand, spec, value, context))
    return {"timestamp": iso(timestamp), "sampled_value": values}


def _value(measurand: str, spec: _Measurand, reading: Reading, interval_start_wh: float | None) -> float | None:
    """The number to report, or None when the reading (or the interval's start) has none."""
    value = spec.quantity(reading)
    if not math.isfinite(value):
        return None
    if measurand == REGISTER:
        return math.floor(value)
    if measurand == INTERVAL:
        if interval_start_wh is None or not math.isfinite(interval_start_wh):
            return None
        return max(0, math.floor(value) - math.floor(interval_start_wh))
    return value


def _sampled(measurand: str, spec: _Measurand, value: float, context: str) -> dict[str, Any]:
    sampled: dict[str, Any] = {
        "value": _format(value, spec.decimals),
        "context": context,
        "format": "Raw",
        "measurand": measurand,
        "location": spec.location,
    }
    if spec.phase is not None:
        sampled["phase"] = spec.phase
    if spec.unit is not None:
        sampled["unit"] = spec.unit
    return sampled


def _format(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0"


class MeterSampler:
    """When periodic (Sample.Periodic) and clock-aligned (Sample.Clock) samples are due.

    Periodic slots start at the transaction start + k × MeterValueSampleInterval (k ≥ 1);
    clock slots at midnight UTC + k × ClockAlignedDataInterval, restarting every midnight.
    An interval of 0 disables its schedule. Each slot gives at most one sample. The first
    look at a schedule (a new transaction, a changed interval, a service start) only notes
    the slot under way: a sample taken part-way through it would be off the grid.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[tuple[float, ...], float]] = {}  # context -> (schedule, last slot start)

    def next_due(
        self, now: datetime, sample_interval_s: int, aligned_interval_s: int, transaction_started_at: datetime | None
    ) -> datetime | None:
        """When ``due`` will next return something (possibly ``now`` or earlier); None if never."""
        times: list[float] = []
        for context, slot in self._slots(now, sample_interval_s, aligned_interval_s, transaction_started_at).items():
            schedule, start, next_start = slot
            last = self._observe(context, schedule, start)
            times.append(start if last < start else next_start)
        return datetime.fromtimestamp(min(times), UTC) if times else None

    def due(
        self, now: datetime, sample_interval_s: int, aligned_interval_s: int, transaction_started_at: datetime | None
    ) -> list[str]:
        """The contexts due at ``now``, in a fixed order (periodic, then clock); each slot once."""
        contexts: list[str] = []
        for context, slot in self._slots(now, sample_interval_s, aligned_interval_s, transaction_started_at).items():
            schedule, start, _ = slot
            if self._observe(context, schedule, start) < start:
                self._last[context] = (schedule, start)
                contexts.append(context)
        return contexts

    def _observe(self, context: str, schedule: tuple[float, ...], start: float) -> float:
        """The last slot start sampled for ``context``; a new schedule starts from the current slot."""
        known = self._last.get(context)
        if known is None or known[0] != schedule:
            self._last[context] = known = (schedule, start)
        return known[1]

    def _slots(
        self, now: datetime, sample_interval_s: int, aligned_interval_s: int, transaction_started_at: datetime | None
    ) -> dict[str, tuple[tuple[float, ...], float, float]]:
        """Per enabled context: (schedule identity, current slot start, next slot start)."""
        t = _seconds(now)
        slots: dict[str, tuple[tuple[float, ...], float, float]] = {}
        if sample_interval_s > 0 and transaction_started_at is not None:
            origin = _seconds(transaction_started_at)
            start = origin + max(0, math.floor((t - origin) / sample_interval_s)) * sample_interval_s
            slots[PERIODIC] = ((origin, sample_interval_s), start, start + sample_interval_s)
        else:
            self._last.pop(PERIODIC, None)
        if aligned_interval_s > 0:
            midnight = math.floor(t / DAY_S) * DAY_S
            start = midnight + math.floor((t - midnight) / aligned_interval_s) * aligned_interval_s
            slots[CLOCK] = ((aligned_interval_s,), start, min(start + aligned_interval_s, midnight + DAY_S))
        else:
            self._last.pop(CLOCK, None)
        return slots


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    return moment.timestamp()


class TransactionData:
    """The meter values of one transaction, for StopTransaction.transactionData.

    Add the Transaction.Begin value first, then the samples taken with StopTxnSampledData
    and StopTxnAlignedData; ``values`` appends the Transaction.End value and thins to
    StopTransactionMaxMeterValues. Thinning drops intermediate values, evenly, and never
    the first or the last (errata 3.14, 3.89). So that a long session stays small on disk,
    once ``capacity`` values are held every other intermediate one is dropped and from
    then on only every other new sample is kept, which keeps the spacing even.
    Meter values without sampled values (empty StopTxn*Data) are not kept (§3.16.5).
    """

    def __init__(self, capacity: int = TRANSACTION_DATA_CAPACITY) -> None:
        self._capacity = max(capacity, 3)
        self._values: list[dict[str, Any]] = []
        self._stride = 1  # keep every stride-th intermediate sample
        self._offered = 0  # intermediate samples offered so far

    def __len__(self) -> int:
        return len(self._values)

    def add(self, meter_value: dict[str, Any]) -> None:
        if not meter_value["sampled_value"]:
            return
        if not self._values:
            self._values.append(meter_value)
            return
        self._offered += 1
        if (self._offered - 1) % self._stride:
            return
        self._values.append(meter_value)
        if len(self._values) > self._capacity:
            self._values = [self._values[0], *self._values[1::2]]
            self._stride *= 2

    def values(self, end: dict[str, Any] | None = None, max_values: int | None = None) -> list[dict[str, Any]]:
        """The transactionData: the values so far, then ``end``, at most ``max_values`` (None: no limit)."""
        values = [*self._values, end] if end is not None and end["sampled_value"] else list(self._values)
        return thin(values, max_values)

    def to_json(self) -> str:
        return json.dumps(
            {"capacity": self._capacity, "stride": self._stride, "offered": self._offered, "values": self._values},
            separators=(",", ":"),
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str) -> TransactionData:
        state = json.loads(text)
        data = cls(state["capacity"])
        data._stride = state["stride"]
        data._offered = state["offered"]
        data._values = state["values"]
        return data


def thin(values: list[dict[str, Any]], max_values: int | None) -> list[dict[str, Any]]:
    """At most ``max_values`` of ``values``: the first, the last and evenly spaced ones between."""
    if max_values is None or len(values) <= max_values:
        return list(values)
    if max_values <= 0:
        return []
    if max_values == 1:
        return [values[-1]]
    inner = max_values - 2
    step = (len(values) - 1) / (inner + 1)
    return [values[round(k * step)] for k in range(inner + 1)] + [values[-1]]
