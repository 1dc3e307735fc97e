"""The one configuration file (``/etc/evnet/evnet.toml``) as pydantic models.

Every field has a default, so an empty file is a valid configuration for the simulated
board. Unknown keys are errors, not silently ignored: a misspelt ``max_curent_a`` on an
installed charger must stop the service with a message that names it, before any
hardware is touched (exit status 78, EX_CONFIG, which systemd shows as "config").

The models are validated by pydantic in a short-lived child process; the daemons get them
back as frozen dataclasses with the same fields and never import pydantic (it would cost
each daemon ~13 MB): ``evnetd.runtime.schema`` explains how one declaration serves both.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from evnetd.runtime import schema

if TYPE_CHECKING or schema.validating:
    from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
else:
    from evnetd.runtime.schema import BaseModel, ConfigDict, Field, field_validator, model_validator

EX_CONFIG = 78
DEFAULT_PATH = Path("/etc/evnet/evnet.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Amps = Annotated[float, Field(ge=0, le=32)]
SpiPath = Annotated[str, Field(pattern=r"^/dev/spidev[0-9]+\.[0-9]+$")]


class GeneralConfig(_Section):
    """Identity and where things live."""

    charge_point_id: Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9._-]+$")] = (
        "EVNET-SIM-0001"
    )
    board: Literal["sim", "linux"] = "sim"
    state_dir: Path = Path("/var/lib/evnet")
    bus_address: str = ""  # empty: the system bus
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class HardwareConfig(_Section):
    """Linux device nodes of the board (DESIGN.md §3); unused on the simulated board."""

    gpiochip: str = "/dev/gpiochip0"
    spi_meter: SpiPath = "/dev/spidev0.0"
    spi_pilot: SpiPath = "/dev/spidev0.1"
    i2c_bus: Annotated[int, Field(ge=0)] = 1
    pwm_chip: Annotated[int, Field(ge=0)] = 0
    pwm_channel: Annotated[int, Field(ge=0)] = 0
    can_channel: str = "can0"  # board "sim": a directory the simulated chargers of one site share


class ChargerConfig(_Section):
    """Connector and charging rules."""

    max_current_a: Annotated[float, Field(ge=6, le=32)] = 32.0
    tethered: bool = False
    tethered_cable_a: Literal[13, 20, 32] = 32
    allow_state_d: bool = False
    # who may charge: anyone ("free"), cards in the token list ("rfid"), only a start from the
    # app, web client or evnetctl ("app"), or the CSMS ("ocpp"); changeable at runtime
    auth_mode: Literal["free", "rfid", "app", "ocpp"] = "free"
    # card UIDs (4, 7 or 10 bytes in hex): the token list at first start, then kept in the charger's state
    local_tokens: list[Annotated[str, Field(min_length=1, max_length=20)]] = []
    # below 6 A from energy management: pause ("off"), hold 6 A ("minimum"), or 6 A bursts
    # of pulse_on_s every pulse_period_s ("pulse")
    keep_awake: Literal["off", "minimum", "pulse"] = "off"
    pulse_on_s: Annotated[float, Field(ge=10, le=600)] = 60.0
    pulse_period_s: Annotated[float, Field(ge=60, le=7200)] = 900.0
    offline_charge: bool = True  # auth_mode "ocpp" with no backend reachable: charge on plug-in
    led_brightness: Literal["low", "medium", "high"] = "high"
    station_name: str = "EVNET charger"  # shown by the web client and the app; changeable at runtime
    # OCPP ConnectionTimeOut: how long an authorisation given before the plug waits for it
    connection_timeout_s: Annotated[int, Field(ge=1, le=3600)] = 60
    # ask the meter for an RCD self-test at each session start; no energy until it passed
    rcd_selftest_before_session: bool = False
    # an EV going A → C without B (simplified pilot) gets at most 10 A; off by default: the
    # EV itself must keep to 10 A, and an EV that shows B for < 200 ms would be capped too
    simplified_pilot_limit: bool = False

    @field_validator("local_tokens")
    @classmethod
    def _card_uids(cls, value: list[str]) -> list[str]:
        from evnetd.charger.tokens import normalise_uid

        return [normalise_uid(uid) for uid in value]  # raises ValueError naming the rule

    @field_validator("station_name")
    @classmethod
    def _station_name(cls, value: str) -> str:
        from evnetd.charger.settings import check_station_name

        return check_station_name(value)  # the rule ChangeSettings applies

    @model_validator(mode="after")
    def _pulse_fits_period(self) -> ChargerConfig:
        if self.pulse_on_s >= self.pulse_period_s:
            raise ValueError(f"pulse_on_s {self.pulse_on_s:g} must be shorter than pulse_period_s "
                             f"{self.pulse_period_s:g}")  # fmt: skip
        return self


class ProtectionConfig(_Section):
    """Trip thresholds (DESIGN.md §4); the defaults are the manual's values.

    Names match the protection core's ProtectionConfig, which also checks the rules that
    tie fields together (e.g. derating must start below the trip temperature).
    """

    overvoltage_v: Annotated[float, Field(ge=250, le=310)] = 300.0
    undervoltage_v: Annotated[float, Field(ge=100, le=207)] = 115.0
    overcurrent_factor: Annotated[float, Field(ge=1.0, le=1.5)] = 1.2
    overcurrent_confirm_s: Annotated[float, Field(ge=0.02, le=60)] = 1.0
    pen_trip_v: Annotated[float, Field(ge=20, le=100)] = 70.0
    pen_confirm_s: Annotated[float, Field(ge=0, le=5)] = 0.0
    derate_start_c: Annotated[float, Field(ge=40, le=90)] = 72.0
    overtemp_trip_c: Annotated[float, Field(ge=40, le=100)] = 79.0
    # how long a cause must stay away before the automatic recoveries (DESIGN.md §4)
    voltage_recovery_s: Annotated[float, Field(ge=1, le=600)] = 10.0
    pen_recovery_s: Annotated[float, Field(ge=1, le=600)] = 60.0
    overcurrent_recovery_s: Annotated[float, Field(ge=1, le=600)] = 60.0
    adc_recovery_s: Annotated[float, Field(ge=1, le=600)] = 5.0

    @model_validator(mode="after")
    def _consistent(self) -> ProtectionConfig:
        from evnetd.protection.config import ProtectionConfig as CoreConfig

        CoreConfig(**self.model_dump())  # raises ValueError naming the broken rule
        return self


class OcppConfig(_Section):
    """The CSMS connection; an empty URL means the charger runs offline."""

    url: str = ""  # the endpoint without the charge point id (general.charge_point_id is appended)
    authorization_key: Annotated[str, Field(max_length=40)] = ""  # basic auth (security profiles 1, 2)
    vendor: Annotated[str, Field(min_length=1, max_length=20)] = "EVNET"
    model: Annotated[str, Field(min_length=1, max_length=20)] = "EVNET 7kW"
    reconnect_min_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 120.0
    keys: dict[str, str] = {}  # OCPP configuration keys at first start (the CSMS may change them later)
    soft_reset_command: list[str] = []  # empty: restart this service
    hard_reset_command: list[str] = []  # e.g. ["systemctl", "reboot"]; empty: restart this service
    firmware_installer: list[str] = ["/usr/lib/evnet/install-firmware", "{file}"]
    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value


class EnergyConfig(_Section):
    """Energy management: main fuse (site CT clamp), solar surplus, schedules, CAN sharing.

    The first group is what the owner may change at runtime (web client, ``evnetctl energy
    set``); these values are the defaults until then. The rest is the installer's.
    """

    mode: Literal["normal", "solar", "solar-min"] = "normal"
    main_fuse_a: float = 40.0
    margin_a: float = 2.0
    safe_current_a: float = 6.0  # site data stale: this (0 = pause)
    solar_start_delay_s: float = 60.0
    solar_stop_delay_s: float = 300.0
    windows: list[str] = []  # "Mo-Fr 07:00-22:00 block": first match wins
    default: Literal["allow", "block"] = "allow"  # outside every window
    cheap: list[str] = []  # cheap-tariff periods, "daily 00:30-04:30"
    cheap_only: bool = False  # charge from the grid only in a cheap period
    random_delay_max_s: float = 0.0  # UK default-mode randomised delay, at most 600 s
    sharing: bool = False  # share group_limit_a with the other chargers on the CAN bus
    # installer
    site_ct: bool = True  # a CT clamp on the incoming supply is fitted
    stale_after_s: Annotated[float, Field(ge=1, le=120)] = 10.0
    raise_delay_s: Annotated[float, Field(ge=0, le=600)] = 5.0
    solar_start_surplus_a: Annotated[float, Field(ge=6, le=32)] = 6.0
    solar_import_allowance_a: Annotated[float, Field(ge=0, le=20)] = 0.0
    solar_min_on_s: Annotated[float, Field(ge=0, le=3600)] = 300.0
    solar_min_off_s: Annotated[float, Field(ge=0, le=3600)] = 300.0
    sharing_node: Annotated[int, Field(ge=1, le=15)] = 1
    sharing_group_limit_a: Annotated[float, Field(ge=6, le=400)] = 32.0
    sharing_fallback_a: Annotated[float, Field(ge=0, le=32)] = 6.0
    sharing_peer_timeout_s: Annotated[float, Field(ge=1, le=60)] = 3.5

    @model_validator(mode="after")
    def _owner_rules(self) -> EnergyConfig:
        from evnetd.energy.settings import from_config
        from evnetd.runtime.settings import SettingError

        try:
            from_config(self)  # the rules the web client and D-Bus apply too
        except SettingError as exc:
            raise ValueError(str(exc)) from None
        return self


class WebConfig(_Section):
    """The web client and app API (evnet-web)."""

    host: str = ""  # the address to listen on; empty: every address
    port: Annotated[int, Field(ge=0, le=65535)] = 443  # 0: any free port (tests)
    tls: bool = True  # HTTPS with the per-device self-signed certificate; false only on a trusted network
    pin: Annotated[str, Field(pattern=r"^([0-9]{6,12})?$")] = ""  # empty: the per-device PIN (state_dir/web/pin)
    login_attempts: Annotated[int, Field(ge=1, le=100)] = 5  # wrong PINs from one address within the window
    login_window_s: Annotated[float, Field(ge=1, le=86400)] = 300.0
    session_max_age_s: Annotated[float, Field(ge=60, le=2_678_400)] = 604_800.0  # a login lasts a week


class SimConfig(_Section):
    """Starting conditions of the simulated plant."""

    grid_voltage_v: Annotated[float, Field(ge=0, le=400)] = 230.0
    grid_frequency_hz: Annotated[float, Field(ge=40, le=70)] = 50.0
    ev_max_current_a: Amps = 32.0
    ev_ramp_a_per_s: Annotated[float, Field(gt=0, le=100_000)] = 32.0
    ambient_c: Annotated[float, Field(ge=-40, le=60)] = 25.0


AdcOffset = Annotated[float, Field(ge=-0.1, le=0.1)]  # ADC volts; the ADC spans ±1.2 V


class CalibrationConfig(_Section):
    """Metering calibration overriding the EEPROM's, per ADC channel; unset keys keep it.

    physical = (ADC volts - offset) × gain. A gain must be within ±20 % of the board's
    nominal value (a typo here would blind the over-voltage and over-current protection);
    current gains may be negative (a CT mounted the wrong way round). The phase is the EV
    current path's lag at 50 Hz; only the power uses it, so no other channel has one.
    """

    line_voltage_gain: float | None = None
    line_voltage_offset: AdcOffset | None = None
    ev_current_gain: float | None = None
    ev_current_offset: AdcOffset | None = None
    ev_current_phase_deg: Annotated[float, Field(ge=-10, le=10)] | None = None
    n_pe_voltage_gain: float | None = None
    n_pe_voltage_offset: AdcOffset | None = None
    site_current_gain: float | None = None
    site_current_offset: AdcOffset | None = None
    load_voltage_gain: float | None = None
    load_voltage_offset: AdcOffset | None = None

    @field_validator(
        "line_voltage_gain", "ev_current_gain", "n_pe_voltage_gain", "site_current_gain", "load_voltage_gain"
    )
    @classmethod
    def _plausible_gain(cls, value: float | None, info: ValidationInfo) -> float | None:
        from evnetd.metering.calibration import check_gain

        if value is not None and info.field_name is not None:
            check_gain(info.field_name.removesuffix("_gain"), value)  # raises ValueError naming the rule
        return value


class Config(_Section):
    general: GeneralConfig = GeneralConfig()
    hardware: HardwareConfig = HardwareConfig()
    charger: ChargerConfig = ChargerConfig()
    protection: ProtectionConfig = ProtectionConfig()
    ocpp: OcppConfig = OcppConfig()
    energy: EnergyConfig = EnergyConfig()
    sim: SimConfig = SimConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    web: WebConfig = WebConfig()


class ConfigError(Exception):
    """The configuration file is unreadable or breaks a rule; the message is one line per problem."""


Overrides = Mapping[str, Mapping[str, Any]]
"""Values from the command line, by section and key, validated with the file."""


def parse_config(text: str, source: str = "<config>", overrides: Overrides | None = None) -> Config:
    """Validate TOML text (in the validator process), raising ConfigError that names
    field, value and rule."""
    request = pickle.dumps((text, source, {k: dict(v) for k, v in (overrides or {}).items()}))
    done = subprocess.run([sys.executable, "-m", "evnetd.runtime.validate"], input=request, capture_output=True)
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise ConfigError(f"{source}: cannot be validated (validator exited {done.returncode}: {last})")
    verdict, result = pickle.loads(done.stdout)  # our own child, run from our own interpreter
    if verdict != "ok":
        raise ConfigError(result)
    return cast(Config, schema.build(result))


def load_config(path: Path | None, overrides: Overrides | None = None) -> Config:
    """Load the file at ``path``; a missing default file means all defaults."""
    if path is None:
        if not DEFAULT_PATH.exists():
            return parse_config("", "(defaults)", overrides)
        path = DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_config(text, str(path), overrides)


def _toml_value(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def example_toml() -> str:
    """The shipped /etc/evnet/evnet.toml: every section and key, commented out, at its default."""
    lines = [
        "# EVNET charger configuration. Every key is optional; the values shown are the defaults.",
        "# An unknown key or a bad value stops the services (exit 78) with a line naming it.",
        "",
    ]
    for section, model in Config():
        doc = (type(model).__doc__ or "").strip().splitlines()[0]
        lines += [f"[{section}]", f"# {doc}"]
        lines += [f"# {key} = {_toml_value(value)}" for key, value in model]
        lines.append("")
    return "\n".join(lines)
