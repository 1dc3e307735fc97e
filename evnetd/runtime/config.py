"""The one configuration file (``/etc/evnet/evnet.toml``) as pydantic models.

Every field has a default, so an empty file is a valid configuration for the simulated
board. Unknown keys are errors, not silently ignored: a misspelt ``max_curent_a`` on an
installed charger must stop the service with a message that names it, before any
hardware is touched (exit status 78, EX_CONFIG, which systemd shows as "config").
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    can_channel: str = "can0"


class ChargerConfig(_Section):
    """Connector and charging rules."""

    max_current_a: Annotated[float, Field(ge=6, le=32)] = 32.0
    tethered: bool = False
    tethered_cable_a: Literal[13, 20, 32] = 32
    allow_state_d: bool = False
    auth_mode: Literal["free", "local", "ocpp"] = "free"
    local_tokens: list[Annotated[str, Field(min_length=1, max_length=20)]] = []
    keep_awake: Literal["off", "minimum"] = "off"
    offline_charge: bool = True  # auth_mode "ocpp" with no backend reachable: charge on plug-in
    led_brightness: Literal["low", "medium", "high"] = "high"


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

    url: str = ""
    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value


class SimConfig(_Section):
    """Starting conditions of the simulated plant."""

    grid_voltage_v: Annotated[float, Field(ge=0, le=400)] = 230.0
    grid_frequency_hz: Annotated[float, Field(ge=40, le=70)] = 50.0
    ev_max_current_a: Amps = 32.0
    ev_ramp_a_per_s: Annotated[float, Field(gt=0, le=100_000)] = 32.0
    ambient_c: Annotated[float, Field(ge=-40, le=60)] = 25.0


class Config(_Section):
    general: GeneralConfig = GeneralConfig()
    hardware: HardwareConfig = HardwareConfig()
    charger: ChargerConfig = ChargerConfig()
    protection: ProtectionConfig = ProtectionConfig()
    ocpp: OcppConfig = OcppConfig()
    sim: SimConfig = SimConfig()


class ConfigError(Exception):
    """The configuration file is unreadable or breaks a rule; the message is one line per problem."""


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(file)"
        rule = item["msg"]
        if item["type"] == "extra_forbidden":
            lines.append(f"{field}: unknown setting")
        else:
            lines.append(f"{field} = {item.get('input')!r}: {rule}")
    return "; ".join(lines)


def parse_config(text: str, source: str = "<config>") -> Config:
    """Parse TOML text into a Config, raising ConfigError that names field, value and rule."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None


def load_config(path: Path | None) -> Config:
    """Load the file at ``path``; a missing default file means all defaults."""
    if path is None:
        if not DEFAULT_PATH.exists():
            return Config()
        path = DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_config(text, str(path))


def _toml_value(value: object) -> str:
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
