"""Metering core: RMS, power, frequency and energy from ADC sample blocks (pure, no I/O)."""

from evnetd.metering.aggregate import SecondAggregator, average
from evnetd.metering.calibration import (
    CALIBRATION_RECORD_SIZE,
    DEFAULT_CALIBRATION,
    EV_CURRENT_GAIN_A_PER_V,
    SITE_CURRENT_GAIN_A_PER_V,
    VOLTAGE_GAIN_V_PER_V,
    Calibration,
    CalibrationFormatError,
    Channel,
)
from evnetd.metering.energy import EnergyRegister
from evnetd.metering.measurement import CycleMeasurement
from evnetd.metering.meter import DEFAULT_METER_CONFIG, Meter, MeterConfig
from evnetd.metering.sitereport import SiteReporter

__all__ = [
    "CALIBRATION_RECORD_SIZE",
    "DEFAULT_CALIBRATION",
    "DEFAULT_METER_CONFIG",
    "EV_CURRENT_GAIN_A_PER_V",
    "SITE_CURRENT_GAIN_A_PER_V",
    "VOLTAGE_GAIN_V_PER_V",
    "Calibration",
    "CalibrationFormatError",
    "Channel",
    "CycleMeasurement",
    "EnergyRegister",
    "Meter",
    "MeterConfig",
    "SecondAggregator",
    "SiteReporter",
    "average",
]
