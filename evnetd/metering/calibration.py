"""Per-channel scaling of the metering ADC, and its fixed EEPROM record.

The ADS131M08 reports volts at its pins; what those volts mean (divider ratio, CT burden,
offset, CT phase lag) is a property of one board, measured at the factory and kept in the
24C32 EEPROM. The record has a magic, a version and a CRC-16 so that an erased (0xFF) or
half-written EEPROM is recognised and the service falls back to the defaults loudly
instead of metering with garbage.
"""

from __future__ import annotations

import binascii
import dataclasses
import enum
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

METERED_CHANNELS = 5
"""Channels 0–4 carry signals; 5–7 of the ADS131M08 are unused on this board."""


class Channel(enum.IntEnum):
    """ADC channel map of the board (DESIGN.md §3)."""

    LINE_VOLTAGE = 0
    EV_CURRENT = 1
    N_PE_VOLTAGE = 2
    SITE_CURRENT = 3
    LOAD_VOLTAGE = 4


VOLTAGE_CHANNELS = (Channel.LINE_VOLTAGE, Channel.N_PE_VOLTAGE, Channel.LOAD_VOLTAGE)

VOLTAGE_GAIN_V_PER_V = 500.0
"""Default line volts per ADC volt on channels 0, 2 and 4 (±600 V span at ±1.2 V)."""
EV_CURRENT_GAIN_A_PER_V = 50.0
"""Default EV amps per ADC volt on channel 1 (±60 A span)."""
SITE_CURRENT_GAIN_A_PER_V = 100.0
"""Default site CT clamp amps per ADC volt on channel 3 (±120 A span)."""

DEFAULT_GAINS: tuple[float, float, float, float, float] = (
    VOLTAGE_GAIN_V_PER_V,
    EV_CURRENT_GAIN_A_PER_V,
    VOLTAGE_GAIN_V_PER_V,
    SITE_CURRENT_GAIN_A_PER_V,
    VOLTAGE_GAIN_V_PER_V,
)
DEFAULT_OFFSETS: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)

GAIN_TOLERANCE = 0.2
"""A gain given in the config may differ this much (relative) from the board's nominal
gain: component tolerances are a few per cent, a typo is a factor of ten."""

NOMINAL_FREQUENCY_HZ = 50.0
"""Frequency at which the phase correction in degrees is turned into a time delay."""
MAX_PHASE_CORRECTION_DEG = 10.0
"""Larger corrections mean a wrong CT or a wrong record, not a real phase error."""

_MAGIC = b"EVCL"
_VERSION = 1
_BODY = struct.Struct(">4sBB11d")
_CRC = struct.Struct(">H")
CALIBRATION_RECORD_SIZE = _BODY.size + _CRC.size
"""Bytes the record occupies in the EEPROM (96: three 32-byte pages)."""


class CalibrationFormatError(ValueError):
    """The bytes are not a valid calibration record (erased, torn write, other format)."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """Scaling of channels 0–4: physical = (adc_volts - offset) * gain.

    ``ev_current_phase_deg`` is the lag, at 50 Hz, that the EV current path (CT and
    anti-alias filter) adds relative to the voltage path. The meter undoes it by delaying
    the voltage by the same time (fractional-sample interpolation); a negative value
    delays the current instead. The record holds no phase for the site CT clamp: its
    product with the voltage gets the same correction (same ADC front end and filter),
    and the clamp's own residual lag of a few degrees only scales the active current by
    cos φ (1.5 % at 10°), never turning import into export. Voltage gains must be positive because the zero-crossing
    detector looks for rising edges in ADC volts; current gains may be negative to undo a
    CT mounted the wrong way round.
    """

    gains: tuple[float, ...] = DEFAULT_GAINS
    offsets: tuple[float, ...] = DEFAULT_OFFSETS
    ev_current_phase_deg: float = 0.0

    def __post_init__(self) -> None:
        if len(self.gains) != METERED_CHANNELS or len(self.offsets) != METERED_CHANNELS:
            raise ValueError(f"calibration needs {METERED_CHANNELS} gains and offsets")
        for ch, gain in enumerate(self.gains):
            if not math.isfinite(gain) or gain == 0.0:
                raise ValueError(f"gain of channel {ch} must be finite and non-zero: {gain}")
            if ch in VOLTAGE_CHANNELS and gain < 0.0:
                raise ValueError(f"gain of voltage channel {ch} must be positive: {gain}")
        for ch, offset in enumerate(self.offsets):
            if not math.isfinite(offset):
                raise ValueError(f"offset of channel {ch} must be finite: {offset}")
        phase = self.ev_current_phase_deg
        if not math.isfinite(phase) or abs(phase) > MAX_PHASE_CORRECTION_DEG:
            raise ValueError(
                f"EV current phase correction must be within ±{MAX_PHASE_CORRECTION_DEG}°: "
                f"{phase}"
            )

    def values(self) -> dict[str, float]:
        """Every value by its name (``line_voltage_gain``, ..., ``ev_current_phase_deg``),
        the names the config's ``[calibration]`` section uses."""
        named: dict[str, float] = {}
        for channel in Channel:
            named[f"{channel.name.lower()}_gain"] = self.gains[channel]
            named[f"{channel.name.lower()}_offset"] = self.offsets[channel]
        named["ev_current_phase_deg"] = self.ev_current_phase_deg
        return named

    def adc_volts(self, channel: Channel, value: float) -> float:
        """The ADC pin voltage that reads as ``value`` volts or amps (for simulators)."""
        return value / self.gains[channel] + self.offsets[channel]

    def to_bytes(self) -> bytes:
        """The EEPROM record: magic, version, channel count, 11 float64, CRC-16."""
        body = _BODY.pack(
            _MAGIC,
            _VERSION,
            METERED_CHANNELS,
            *self.gains,
            *self.offsets,
            self.ev_current_phase_deg,
        )
        return body + _CRC.pack(_crc16(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> Calibration:
        """Parse a record written by :meth:`to_bytes`; raise CalibrationFormatError."""
        if len(data) != CALIBRATION_RECORD_SIZE:
            raise CalibrationFormatError(
                f"calibration record is {len(data)} bytes, expected {CALIBRATION_RECORD_SIZE}"
            )
        body, (crc,) = data[: _BODY.size], _CRC.unpack(data[_BODY.size :])
        magic, version, count, *values = _BODY.unpack(body)
        if magic != _MAGIC:
            raise CalibrationFormatError(f"bad calibration magic {magic!r}")
        if crc != _crc16(body):
            raise CalibrationFormatError(
                f"calibration CRC mismatch: stored {crc:#06x}, computed {_crc16(body):#06x}"
            )
        if version != _VERSION or count != METERED_CHANNELS:
            raise CalibrationFormatError(
                f"unsupported calibration record version {version} with {count} channels"
            )
        g0, g1, g2, g3, g4, o0, o1, o2, o3, o4, phase = values
        try:
            return cls((g0, g1, g2, g3, g4), (o0, o1, o2, o3, o4), phase)
        except ValueError as exc:
            raise CalibrationFormatError(f"calibration record holds invalid values: {exc}") from exc


DEFAULT_CALIBRATION = Calibration()
VALUE_NAMES = tuple(DEFAULT_CALIBRATION.values())


def check_gain(channel_name: str, gain: float) -> None:
    """Raise ValueError unless ``gain`` is plausible for the channel (``line_voltage``...):
    within GAIN_TOLERANCE of the nominal gain, negative only on a current channel."""
    channel = Channel[channel_name.upper()]
    nominal = DEFAULT_GAINS[channel]
    low, high = nominal * (1 - GAIN_TOLERANCE), nominal * (1 + GAIN_TOLERANCE)
    unit = "V" if channel in VOLTAGE_CHANNELS else "A"
    if channel in VOLTAGE_CHANNELS and not gain > 0:
        raise ValueError(f"must be positive (a voltage channel): {low:g}–{high:g} {unit} per ADC volt")
    if not low <= abs(gain) <= high:
        sign = "" if channel in VOLTAGE_CHANNELS else "±"
        raise ValueError(
            f"must be within {sign}{low:g}–{high:g} {unit} per ADC volt "
            f"(nominal {nominal:g} ± {GAIN_TOLERANCE:.0%})"
        )


def merge(
    base: Calibration, base_source: str, overrides: Mapping[str, float | None]
) -> tuple[Calibration, dict[str, tuple[float, str]]]:
    """The calibration in force: ``base`` (the EEPROM's or the defaults) with every value
    ``overrides`` sets (None: not set). Also each value with where it came from
    (``"config"`` or ``base_source``), for the read-out.

    Raises ValueError for an unknown name or a result Calibration refuses.
    """
    unknown = set(overrides) - set(VALUE_NAMES)
    if unknown:
        raise ValueError(f"unknown calibration values: {', '.join(sorted(unknown))}")
    named = base.values()
    given = {name: value for name, value in overrides.items() if value is not None}
    named.update(given)
    gains = tuple(named[f"{c.name.lower()}_gain"] for c in Channel)
    offsets = tuple(named[f"{c.name.lower()}_offset"] for c in Channel)
    merged = dataclasses.replace(base, gains=gains, offsets=offsets, ev_current_phase_deg=named["ev_current_phase_deg"])
    readout = {name: (value, "config" if name in given else base_source) for name, value in named.items()}
    return merged, readout


def _crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as binascii.crc_hqx computes it."""
    return binascii.crc_hqx(data, 0xFFFF)
