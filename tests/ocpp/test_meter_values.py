"""MeterValues: sampling times on a fake clock, the sampled values, transactionData, and the 1.6 schemas."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from ocpp.charge_point import remove_nones, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, validate_payload
from ocpp.v16 import call

from evnetd.ocpp.metervalues import (
    SUPPORTED_MEASURANDS,
    MeterSampler,
    Reading,
    TransactionData,
    meter_value,
    parse_measurands,
    sampled_value,
    thin,
)

READING = Reading(
    energy_wh=12345.9,
    power_w=7123.4,
    current_a=30.974,
    voltage_v=229.96,
    frequency_hz=49.987,
    temperature_c=41.26,
    offered_a=32.0,
    power_factor=0.9987,
)
AT = datetime(2024, 3, 1, 10, 15, 0, tzinfo=UTC)


def at(hours: int, minutes: int = 0, seconds: float = 0) -> datetime:
    return datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=hours, minutes=minutes, seconds=seconds)


async def validate(action: str, request: Any) -> None:
    payload = snake_to_camel_case(remove_nones(dataclasses.asdict(request)))
    await validate_payload(Call(unique_id="1", action=action, payload=payload), "1.6")


# -- sampled values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measurand", "value", "unit", "phase", "location"),
    [
        ("Energy.Active.Import.Register", "12345", "Wh", None, "Outlet"),
        ("Power.Active.Import", "7123", "W", None, "Outlet"),
        ("Current.Import", "30.97", "A", "L1", "Outlet"),
        ("Voltage", "230.0", "V", "L1-N", "Outlet"),
        ("Frequency", "49.99", None, None, "Outlet"),
        ("Temperature", "41.3", "Celsius", None, "Body"),
        ("Current.Offered", "32.0", "A", None, "Outlet"),
        ("Power.Offered", "7360", "W", None, "Outlet"),
        ("Power.Factor", "0.999", None, None, "Outlet"),
    ],
)
def test_sampled_value_units_and_formats(
    measurand: str, value: str, unit: str | None, phase: str | None, location: str
) -> None:
    sampled = sampled_value(measurand, READING, "Sample.Periodic")
    expected = {"value": value, "context": "Sample.Periodic", "format": "Raw", "measurand": measurand}
    expected |= {"location": location}
    if unit is not None:
        expected["unit"] = unit
    if phase is not None:
        expected["phase"] = phase
    assert sampled == expected


def test_the_register_is_rounded_down_to_whole_wh() -> None:
    reading = dataclasses.replace(READING, energy_wh=999.999)
    assert sampled_value("Energy.Active.Import.Register", reading, "Trigger")["value"] == "999"


def test_interval_energy_is_the_difference_of_the_reported_registers() -> None:
    sampled = sampled_value("Energy.Active.Import.Interval", READING, "Sample.Clock", interval_start_wh=11000.7)
    assert (sampled["value"], sampled["unit"]) == ("1345", "Wh")
    with pytest.raises(ValueError, match="no value"):
        sampled_value("Energy.Active.Import.Interval", READING, "Sample.Clock")


def test_no_negative_zero() -> None:
    reading = dataclasses.replace(READING, power_w=-0.3)
    assert sampled_value("Power.Active.Import", reading, "Trigger")["value"] == "0"


def test_missing_readings_are_left_out_of_a_meter_value() -> None:
    reading = dataclasses.replace(READING, frequency_hz=math.nan)
    with pytest.raises(ValueError, match="no value"):
        sampled_value("Frequency", reading, "Trigger")
    values = meter_value(AT, reading, ["Frequency", "Voltage", "Energy.Active.Import.Interval"], "Trigger")
    assert [v["measurand"] for v in values["sampled_value"]] == ["Voltage"]


def test_unsupported_measurands_are_refused() -> None:
    with pytest.raises(ValueError, match="SoC"):
        sampled_value("SoC", READING, "Trigger")
    with pytest.raises(ValueError, match="RPM"):
        meter_value(AT, READING, ["Voltage", "RPM"], "Trigger")
    with pytest.raises(ValueError, match="SoC"):
        parse_measurands("Voltage,SoC")
    assert parse_measurands(" Energy.Active.Import.Register , Voltage,") == ("Energy.Active.Import.Register", "Voltage")
    assert parse_measurands("") == ()


def test_meter_value_is_stamped_in_utc_whole_seconds() -> None:
    taken = datetime(2024, 3, 1, 12, 15, 7, 900_000, tzinfo=timezone(timedelta(hours=2)))
    value = meter_value(taken, READING, ["Energy.Active.Import.Register"], "Sample.Clock")
    assert value["timestamp"] == "2024-03-01T10:15:07Z"
    assert [v["context"] for v in value["sampled_value"]] == ["Sample.Clock"]


# -- against the library's 1.6 schemas ------------------------------------------------------


@pytest.mark.parametrize("context", ["Sample.Periodic", "Sample.Clock", "Trigger", "Transaction.Begin"])
async def test_meter_values_payload_is_valid_1_6(context: str) -> None:
    value = meter_value(AT, READING, sorted(SUPPORTED_MEASURANDS), context, interval_start_wh=12000)
    assert len(value["sampled_value"]) == len(SUPPORTED_MEASURANDS)
    await validate("MeterValues", call.MeterValues(connector_id=1, meter_value=[value], transaction_id=5))
    await validate("MeterValues", call.MeterValues(connector_id=1, meter_value=[value]))


async def test_stop_transaction_payload_is_valid_1_6() -> None:
    data = TransactionData()
    data.add(meter_value(at(10), READING, sorted(SUPPORTED_MEASURANDS), "Transaction.Begin"))
    data.add(meter_value(at(10, 1), READING, sorted(SUPPORTED_MEASURANDS), "Sample.Periodic"))
    end = meter_value(at(11), READING, sorted(SUPPORTED_MEASURANDS), "Transaction.End")
    request = call.StopTransaction(
        meter_stop=12345, timestamp="2024-03-01T11:00:00Z", transaction_id=-1, transaction_data=data.values(end)
    )
    await validate("StopTransaction", request)


async def test_the_schema_check_is_real() -> None:
    value = meter_value(AT, READING, ["Voltage"], "Sample.Periodic")
    value["sampled_value"][0]["unit"] = "Hertz"  # valid for MeterValues, not in StopTransaction's schema
    with pytest.raises(OCPPError):
        await validate("StopTransaction", call.StopTransaction(1, "2024-03-01T11:00:00Z", 1, transaction_data=[value]))


# -- sampling times ------------------------------------------------------------------------


def test_periodic_samples_count_from_the_transaction_start() -> None:
    sampler = MeterSampler()
    started = at(10, 0, 3)
    assert sampler.due(started, 60, 0, started) == []
    assert sampler.next_due(started, 60, 0, started) == at(10, 1, 3)
    assert sampler.due(at(10, 1, 2.9), 60, 0, started) == []
    assert sampler.due(at(10, 1, 3), 60, 0, started) == ["Sample.Periodic"]
    assert sampler.due(at(10, 1, 3.5), 60, 0, started) == []  # once per slot
    assert sampler.next_due(at(10, 1, 3.5), 60, 0, started) == at(10, 2, 3)
    assert sampler.due(at(10, 2, 4), 60, 0, started) == ["Sample.Periodic"]


def test_periodic_sampling_needs_a_transaction() -> None:
    sampler = MeterSampler()
    assert sampler.due(at(10), 60, 0, None) == []
    assert sampler.next_due(at(10), 60, 0, None) is None


def test_a_new_transaction_restarts_the_periodic_grid() -> None:
    sampler = MeterSampler()
    first = at(10)
    sampler.due(first, 60, 0, first)
    assert sampler.due(at(10, 1), 60, 0, first) == ["Sample.Periodic"]
    second = at(10, 1, 30)
    assert sampler.due(second, 60, 0, second) == []
    assert sampler.due(at(10, 2), 60, 0, second) == []
    assert sampler.due(at(10, 2, 30), 60, 0, second) == ["Sample.Periodic"]


def test_clock_aligned_samples_sit_on_the_grid_from_midnight_utc() -> None:
    sampler = MeterSampler()
    assert sampler.due(at(10, 7, 33), 0, 900, None) == []  # joined part-way through a slot: off the grid
    assert sampler.next_due(at(10, 7, 33), 0, 900, None) == at(10, 15)
    assert sampler.due(at(10, 14, 59.9), 0, 900, None) == []
    assert sampler.due(at(10, 15), 0, 900, None) == ["Sample.Clock"]
    assert sampler.due(at(10, 20), 0, 900, None) == []
    assert sampler.due(at(10, 30, 0.2), 0, 900, at(10, 29)) == ["Sample.Clock"]  # with or without a transaction


def test_a_clock_interval_that_does_not_divide_the_day_restarts_at_midnight() -> None:
    sampler = MeterSampler()
    seven_hours = 7 * 3600  # slots at 00, 07, 14 and 21 h, then 00 h again
    sampler.due(at(15), 0, seven_hours, None)
    assert sampler.next_due(at(15), 0, seven_hours, None) == at(21)
    assert sampler.due(at(21), 0, seven_hours, None) == ["Sample.Clock"]
    assert sampler.next_due(at(21), 0, seven_hours, None) == at(24)
    assert sampler.due(at(24), 0, seven_hours, None) == ["Sample.Clock"]
    assert sampler.next_due(at(24), 0, seven_hours, None) == at(31)


def test_both_intervals_zero_means_no_samples() -> None:
    sampler = MeterSampler()
    for minute in range(0, 180, 7):
        assert sampler.due(at(10, minute), 0, 0, at(10)) == []
    assert sampler.next_due(at(12), 0, 0, at(10)) is None


def test_both_schedules_due_together_are_both_reported() -> None:
    sampler = MeterSampler()
    started = at(10, 0)
    sampler.due(at(10, 0), 300, 600, started)
    assert sampler.due(at(10, 5), 300, 600, started) == ["Sample.Periodic"]
    assert sampler.due(at(10, 10), 300, 600, started) == ["Sample.Periodic", "Sample.Clock"]


def test_missed_slots_give_one_sample_not_a_burst() -> None:
    sampler = MeterSampler()
    started = at(10)
    sampler.due(started, 10, 0, started)
    assert sampler.due(at(10, 5), 10, 0, started) == ["Sample.Periodic"]
    assert sampler.due(at(10, 5, 1), 10, 0, started) == []
    assert sampler.next_due(at(10, 5, 1), 10, 0, started) == at(10, 5, 10)


def test_a_changed_interval_starts_again_on_the_new_grid() -> None:
    sampler = MeterSampler()
    sampler.due(at(10, 1), 0, 60, None)
    assert sampler.due(at(10, 2), 0, 60, None) == ["Sample.Clock"]
    assert sampler.due(at(10, 2, 30), 0, 900, None) == []
    assert sampler.next_due(at(10, 2, 30), 0, 900, None) == at(10, 15)


def test_a_slot_not_yet_sampled_is_due_now() -> None:
    sampler = MeterSampler()
    sampler.due(at(10, 0), 0, 60, None)
    assert sampler.next_due(at(10, 1, 5), 0, 60, None) == at(10, 1)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        MeterSampler().due(datetime(2024, 3, 1, 10), 0, 60, None)


# -- transactionData -----------------------------------------------------------------------


def sample(minute: int, context: str = "Sample.Periodic") -> dict[str, Any]:
    reading = dataclasses.replace(READING, energy_wh=1000.0 + minute)
    return meter_value(at(10, minute), reading, ["Energy.Active.Import.Register"], context)


def registers(values: list[dict[str, Any]]) -> list[int]:
    return [int(v["sampled_value"][0]["value"]) - 1000 for v in values]


def test_transaction_data_keeps_begin_samples_and_end() -> None:
    data = TransactionData()
    data.add(sample(0, "Transaction.Begin"))
    for minute in range(1, 5):
        data.add(sample(minute))
    values = data.values(sample(5, "Transaction.End"))
    assert registers(values) == [0, 1, 2, 3, 4, 5]
    assert values[0]["sampled_value"][0]["context"] == "Transaction.Begin"
    assert values[-1]["sampled_value"][0]["context"] == "Transaction.End"


def test_thinning_drops_intermediate_values_evenly_and_keeps_begin_and_end() -> None:
    data = TransactionData()
    data.add(sample(0, "Transaction.Begin"))
    for minute in range(1, 10):
        data.add(sample(minute))
    end = sample(10, "Transaction.End")
    assert registers(data.values(end, max_values=6)) == [0, 2, 4, 6, 8, 10]
    assert registers(data.values(end, max_values=2)) == [0, 10]
    assert registers(data.values(end, max_values=1)) == [10]
    assert data.values(end, max_values=0) == []
    assert len(data.values(end, max_values=None)) == 11


def test_thin_never_repeats_a_value() -> None:
    values = [sample(minute) for minute in range(50)]
    for limit in range(2, 50):
        kept = registers(thin(values, limit))
        assert len(kept) == limit and kept == sorted(set(kept)) and kept[0] == 0 and kept[-1] == 49


def test_a_long_transaction_is_thinned_as_it_goes_with_even_spacing() -> None:
    data = TransactionData(capacity=9)
    data.add(sample(0, "Transaction.Begin"))
    for minute in range(1, 41):
        data.add(sample(minute))
        assert len(data) <= 9
    assert registers(data.values()) == [0, 1, 9, 17, 25, 33]  # begin, then every 8th sample


def test_empty_meter_values_are_not_kept() -> None:
    data = TransactionData()
    data.add(meter_value(at(10), READING, [], "Transaction.Begin"))
    assert data.values(meter_value(at(11), READING, [], "Transaction.End")) == []


def test_transaction_data_survives_json() -> None:
    data = TransactionData(capacity=5)
    data.add(sample(0, "Transaction.Begin"))
    for minute in range(1, 8):
        data.add(sample(minute))
    restored = TransactionData.from_json(data.to_json())
    assert restored.values() == data.values()
    for minute in range(8, 20):
        data.add(sample(minute))
        restored.add(sample(minute))
    assert restored.values(sample(20)) == data.values(sample(20))
