import pytest

from evnetd.metering.calibration import (
    CALIBRATION_RECORD_SIZE,
    DEFAULT_CALIBRATION,
    EV_CURRENT_GAIN_A_PER_V,
    SITE_CURRENT_GAIN_A_PER_V,
    VOLTAGE_GAIN_V_PER_V,
    Calibration,
    CalibrationFormatError,
    Channel,
    check_gain,
    merge,
)

SAMPLE = Calibration(
    gains=(501.25, -49.875, 498.5, 100.125, 502.0),
    offsets=(0.0012, -0.0003, 0.0, 1e-6, -0.0021),
    ev_current_phase_deg=1.37,
)


def test_defaults_are_the_board_values():
    assert VOLTAGE_GAIN_V_PER_V == 500.0
    assert EV_CURRENT_GAIN_A_PER_V == 50.0
    assert SITE_CURRENT_GAIN_A_PER_V == 100.0
    assert DEFAULT_CALIBRATION.gains == (500.0, 50.0, 500.0, 100.0, 500.0)
    assert DEFAULT_CALIBRATION.offsets == (0.0,) * 5
    assert DEFAULT_CALIBRATION.ev_current_phase_deg == 0.0


def test_adc_volts_inverts_the_scaling():
    assert SAMPLE.adc_volts(Channel.LINE_VOLTAGE, 501.25) == pytest.approx(1.0012)
    assert DEFAULT_CALIBRATION.adc_volts(Channel.SITE_CURRENT, 50.0) == 0.5


@pytest.mark.parametrize("calibration", [DEFAULT_CALIBRATION, SAMPLE])
def test_round_trip_is_exact(calibration):
    record = calibration.to_bytes()
    assert len(record) == CALIBRATION_RECORD_SIZE == 96
    assert record[:4] == b"EVCL"
    assert Calibration.from_bytes(record) == calibration


@pytest.mark.parametrize("position", [0, 5, 6, 40, 93, 94, 95])
def test_any_flipped_bit_is_rejected(position):
    record = bytearray(SAMPLE.to_bytes())
    record[position] ^= 0x10
    with pytest.raises(CalibrationFormatError):
        Calibration.from_bytes(bytes(record))


@pytest.mark.parametrize(
    ("record", "words"),
    [
        (b"\xff" * CALIBRATION_RECORD_SIZE, "magic"),  # erased EEPROM
        (SAMPLE.to_bytes()[:-1], "bytes"),
        (SAMPLE.to_bytes() + b"\x00", "bytes"),
        (SAMPLE.to_bytes()[:-2] + b"\x00\x00", "CRC"),
    ],
)
def test_bad_records_name_the_problem(record, words):
    with pytest.raises(CalibrationFormatError, match=words):
        Calibration.from_bytes(record)


def test_format_error_is_a_value_error():
    assert issubclass(CalibrationFormatError, ValueError)


def test_record_with_valid_crc_but_invalid_values_is_rejected():
    import binascii
    import struct

    body = struct.pack(">4sBB11d", b"EVCL", 1, 5, 0.0, 50, 500, 100, 500, *(0.0,) * 6)
    record = body + struct.pack(">H", binascii.crc_hqx(body, 0xFFFF))
    with pytest.raises(CalibrationFormatError, match="invalid values"):
        Calibration.from_bytes(record)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gains": (0.0, 50.0, 500.0, 100.0, 500.0)},
        {"gains": (-500.0, 50.0, 500.0, 100.0, 500.0)},
        {"gains": (500.0, 50.0, 500.0, 100.0, float("nan"))},
        {"offsets": (0.0, float("inf"), 0.0, 0.0, 0.0)},
        {"ev_current_phase_deg": 12.0},
    ],
)
def test_invalid_calibration_is_refused(kwargs):
    with pytest.raises(ValueError):
        Calibration(**kwargs)


def test_negative_current_gain_is_allowed():
    assert Calibration(gains=(500.0, -50.0, 500.0, -100.0, 500.0)).gains[1] == -50.0


def test_values_are_named_as_in_the_config():
    named = SAMPLE.values()
    assert list(named) == [
        "line_voltage_gain", "line_voltage_offset", "ev_current_gain", "ev_current_offset",
        "n_pe_voltage_gain", "n_pe_voltage_offset", "site_current_gain", "site_current_offset",
        "load_voltage_gain", "load_voltage_offset", "ev_current_phase_deg",
    ]  # fmt: skip
    assert named["ev_current_gain"] == -49.875 and named["load_voltage_offset"] == -0.0021


def test_config_overrides_the_base_value_by_value():
    merged, readout = merge(SAMPLE, "eeprom", {"line_voltage_gain": 510.0, "ev_current_phase_deg": -0.5,
                                                 "site_current_offset": None})  # fmt: skip
    assert merged.gains == (510.0, -49.875, 498.5, 100.125, 502.0)
    assert merged.offsets == SAMPLE.offsets
    assert merged.ev_current_phase_deg == -0.5
    assert readout["line_voltage_gain"] == (510.0, "config")
    assert readout["ev_current_phase_deg"] == (-0.5, "config")
    assert readout["site_current_offset"] == (1e-6, "eeprom")
    overridden = ("line_voltage_gain", "ev_current_phase_deg")
    others = {source for name, (_, source) in readout.items() if name not in overridden}
    assert others == {"eeprom"}


def test_no_override_keeps_the_base_and_names_its_source():
    merged, readout = merge(DEFAULT_CALIBRATION, "default", {})
    assert merged == DEFAULT_CALIBRATION
    assert {source for _, source in readout.values()} == {"default"}


@pytest.mark.parametrize("overrides", [{"line_voltage_phase_deg": 1.0}, {"line_voltage_gain": -500.0}])
def test_merge_refuses_unknown_names_and_invalid_results(overrides):
    with pytest.raises(ValueError):
        merge(DEFAULT_CALIBRATION, "default", overrides)


@pytest.mark.parametrize(
    ("channel", "gain", "plausible"),
    [("line_voltage", 500.0, True), ("line_voltage", 400.0, True), ("line_voltage", 600.0, True),
     ("line_voltage", 399.0, False), ("line_voltage", 5000.0, False), ("n_pe_voltage", -500.0, False),
     ("ev_current", -50.0, True), ("ev_current", 60.0, True), ("ev_current", 5.0, False),
     ("site_current", -120.0, True), ("site_current", 121.0, False), ("load_voltage", float("nan"), False)],
)  # fmt: skip
def test_config_gains_must_be_near_the_nominal(channel, gain, plausible):
    if plausible:
        check_gain(channel, gain)
    else:
        with pytest.raises(ValueError, match="must be"):
            check_gain(channel, gain)
