"""The OCPP 1.6 configuration keys of this charger, validated and kept on disk.

The CSMS changes the charger's behaviour through ChangeConfiguration and reads it back with
GetConfiguration; the OCTT (TC_019, TC_040) checks that every key of the profiles we claim
exists with the right accessibility and that bad values are refused without side effects.
A change must survive a reboot (spec §9), so it is written to SQLite (WAL, synchronous=FULL)
before ChangeConfiguration is answered.

One declarative table describes every key: its type and bounds, default, read-only and
reboot-required flags. The value of a key is, in order of precedence: what the CSMS (or the
charger itself) stored, the installer's override from the TOML config, the table's default.
Values are kept as canonical text, so what GetConfiguration reports is exactly what was
validated. Key names are CiString50 in OCPP, hence matched case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from evnetd.runtime.storage import open_database

_MIGRATIONS = ("CREATE TABLE configuration (key TEXT PRIMARY KEY, value TEXT NOT NULL)",)

VALUE_MAX_LENGTH = 500  # ChangeConfiguration.req value is a CiString500
_INT32_MAX = 2**31 - 1
_DAY_S = 86_400

MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Current.Offered",
    "Voltage",
    "Frequency",
    "Temperature",
    "Power.Offered",
    "Energy.Active.Import.Interval",
    "Power.Factor",
)
FEATURE_PROFILES = (
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
)
_ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")
# "<connectorId>.<rotation>" for connector 0 (the grid side) and 1, or a rotation for all of them
_PHASE_ROTATIONS = _ROTATIONS + tuple(f"{connector}.{rotation}" for connector in (0, 1) for rotation in _ROTATIONS)


class ChangeStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


class Kind(Enum):
    INTEGER = "integer"
    BOOLEAN = "boolean"
    LIST = "comma-separated list"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One configuration key. ``low``/``high`` bound an integer's value or a text's length."""

    name: str
    kind: Kind
    default: str
    readonly: bool = False
    reboot: bool = False  # the new value takes effect only after a reboot (ChangeStatus.REBOOT_REQUIRED)
    write_only: bool = False  # never disclosed by GetConfiguration
    only_increase: bool = False  # the CSMS may raise it but never lower it
    low: int = 0
    high: int = _INT32_MAX
    members: tuple[str, ...] = ()  # the allowed items of a LIST
    length_key: str | None = None  # the key holding the maximum number of items of a LIST


def _int(
    name: str,
    default: int,
    *,
    low: int = 0,
    high: int = _INT32_MAX,
    readonly: bool = False,
    reboot: bool = False,
    only_increase: bool = False,
) -> KeySpec:
    return KeySpec(
        name,
        Kind.INTEGER,
        str(default),
        readonly=readonly,
        reboot=reboot,
        only_increase=only_increase,
        low=low,
        high=high,
    )


def _bool(name: str, default: bool, *, readonly: bool = False) -> KeySpec:
    return KeySpec(name, Kind.BOOLEAN, "true" if default else "false", readonly=readonly)


def _list(name: str, default: str, members: tuple[str, ...], *, readonly: bool = False, length: bool = True) -> KeySpec:
    length_key = f"{name}MaxLength" if length else None
    return KeySpec(name, Kind.LIST, default, readonly=readonly, members=members, length_key=length_key)


def _max_length(name: str, default: int) -> KeySpec:
    return _int(f"{name}MaxLength", default, readonly=True)


def _text(name: str, default: str, *, low: int = 0, high: int = VALUE_MAX_LENGTH, write_only: bool = False) -> KeySpec:
    return KeySpec(name, Kind.TEXT, default, write_only=write_only, low=low, high=high)


_TABLE: tuple[KeySpec, ...] = (
    # Core
    _bool("AllowOfflineTxForUnknownId", False),
    _bool("AuthorizationCacheEnabled", True),
    _bool("AuthorizeRemoteTxRequests", False),
    _int("ClockAlignedDataInterval", 0, high=_DAY_S),
    _int("ConnectionTimeOut", 60, low=1, high=3600),
    _list("ConnectorPhaseRotation", "1.NotApplicable", _PHASE_ROTATIONS),
    _max_length("ConnectorPhaseRotation", 2),
    _int("GetConfigurationMaxKeys", 100, readonly=True),
    _int("HeartbeatInterval", 300, high=_DAY_S),
    _int("LightIntensity", 100, high=100),
    _bool("LocalAuthorizeOffline", True),
    _bool("LocalPreAuthorize", False),
    _int("MaxEnergyOnInvalidId", 0),
    _list("MeterValuesAlignedData", "Energy.Active.Import.Register", MEASURANDS),
    _max_length("MeterValuesAlignedData", len(MEASURANDS)),
    _list(
        "MeterValuesSampledData", "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage", MEASURANDS
    ),
    _max_length("MeterValuesSampledData", len(MEASURANDS)),
    _int("MeterValueSampleInterval", 60, high=_DAY_S),
    _int("MessageTimeout", 30, low=1, high=3600),
    _int("MinimumStatusDuration", 0, high=3600),
    _int("NumberOfConnectors", 1, readonly=True),
    _int("ResetRetries", 1, high=10),
    _bool("StopTransactionOnEVSideDisconnect", True),
    _bool("StopTransactionOnInvalidId", True),
    _int("StopTransactionMaxMeterValues", 100, low=1, high=10_000),
    _list("StopTxnAlignedData", "", MEASURANDS),
    _max_length("StopTxnAlignedData", len(MEASURANDS)),
    _list("StopTxnSampledData", "Energy.Active.Import.Register", MEASURANDS),
    _max_length("StopTxnSampledData", len(MEASURANDS)),
    _list("SupportedFeatureProfiles", ",".join(FEATURE_PROFILES), FEATURE_PROFILES, readonly=True),
    _max_length("SupportedFeatureProfiles", len(FEATURE_PROFILES)),
    _int("TransactionMessageAttempts", 3, high=100),
    _int("TransactionMessageRetryInterval", 60, high=_DAY_S),
    _bool("UnlockConnectorOnEVSideDisconnect", True),
    # applied by the websocket when it connects: the running connection keeps the old interval
    _int("WebSocketPingInterval", 60, high=_DAY_S, reboot=True),
    # LocalAuthListManagement
    _bool("LocalAuthListEnabled", True),
    _int("LocalAuthListMaxLength", 1000, readonly=True),
    _int("SendLocalListMaxLength", 100, readonly=True),
    # Reservation
    _bool("ReserveConnectorZeroSupported", False, readonly=True),
    # SmartCharging
    _int("ChargeProfileMaxStackLevel", 8, readonly=True),
    _list(
        "ChargingScheduleAllowedChargingRateUnit", "Current,Power", ("Current", "Power"), readonly=True, length=False
    ),
    _int("ChargingScheduleMaxPeriods", 24, readonly=True),
    _bool("ConnectorSwitch3to1PhaseSupported", False, readonly=True),
    _int("MaxChargingProfilesInstalled", 16, readonly=True),
    # FirmwareManagement
    _list("SupportedFileTransferProtocols", "HTTP,HTTPS,FTP", ("HTTP", "HTTPS", "FTP"), readonly=True, length=False),
    # Security whitepaper
    _bool("AdditionalRootCertificateCheck", False, readonly=True),
    _text("AuthorizationKey", "", low=16, high=40, write_only=True),
    _int("CertificateSignedMaxChainSize", 10_000, readonly=True),
    _int("CertificateStoreMaxLength", 20, readonly=True),
    _text("CpoName", ""),
    _int("SecurityProfile", 0, high=3, only_increase=True),
    # vendor keys
    _int("CompositeScheduleDefaultNumberPhases", 1, low=1, high=3, readonly=True),
    _bool("LegacyFirmwareUpdateEnabled", True),
    _int("SupplyVoltage", 230, low=100, high=400, readonly=True),
)

KEYS: Mapping[str, KeySpec] = {spec.name: spec for spec in _TABLE}
KEY_NAMES: tuple[str, ...] = tuple(KEYS)
_BY_FOLDED = {name.casefold(): spec for name, spec in KEYS.items()}
_INTEGER = re.compile(r"[+-]?[0-9]+")


def spec_of(key: str) -> KeySpec | None:
    """The key named ``key`` in any letter case, or None if we don't have it."""
    return _BY_FOLDED.get(key.strip().casefold())


def canonical(spec: KeySpec, value: str) -> str | None:
    """``value`` in canonical text if it is valid for ``spec`` (list lengths aside), else None."""
    text = value.strip()
    if spec.kind is Kind.INTEGER:
        if not _INTEGER.fullmatch(text) or not spec.low <= int(text) <= spec.high:
            return None
        return str(int(text))
    if spec.kind is Kind.BOOLEAN:
        return text.lower() if text.lower() in ("true", "false") else None
    if spec.kind is Kind.LIST:
        return _canonical_list(spec.members, text)
    return value if spec.low <= len(value) <= spec.high and value.isprintable() else None


def _canonical_list(members: tuple[str, ...], text: str) -> str | None:
    if not text:
        return ""
    spelling = {member.casefold(): member for member in members}
    items = [spelling.get(item.strip().casefold()) for item in text.split(",")]
    if None in items or len(set(items)) != len(items):
        return None
    return ",".join(item for item in items if item is not None)


class ConfigurationKeys:
    """The charger's configuration keys: what GetConfiguration shows and ChangeConfiguration changes."""

    def __init__(self, path: Path, initial: Mapping[str, str] | None = None) -> None:
        """``initial``: the installer's values from the TOML config; raises ValueError if one is wrong."""
        self._defaults = {spec.name: spec.default for spec in _TABLE}
        self._stored: dict[str, str] = {}
        self._apply_overrides(initial or {})
        self._db = open_database(path, _MIGRATIONS)
        for name, value in self._db.execute("SELECT key, value FROM configuration"):
            self._load(name, value)

    def _apply_overrides(self, initial: Mapping[str, str]) -> None:
        overridden: list[KeySpec] = []
        for key, value in initial.items():
            spec = spec_of(key)
            if spec is None:
                raise ValueError(f"unknown OCPP configuration key {key!r}")
            self._defaults[spec.name] = value.strip()
            overridden.append(spec)
        for spec in sorted(overridden, key=lambda spec: spec.kind is Kind.LIST):  # lists after their lengths
            new = self._valid(spec, self._defaults[spec.name])
            if new is None:
                raise ValueError(f"invalid value {self._defaults[spec.name]!r} for OCPP configuration key {spec.name}")
            self._defaults[spec.name] = new

    def _load(self, name: str, value: str) -> None:
        """Take a stored value unless a newer software version no longer knows or accepts it."""
        spec = KEYS.get(name)
        if spec is not None and canonical(spec, value) == value:
            self._stored[name] = value

    def get(self, keys: Sequence[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
        """GetConfiguration: ``(configuration_key, unknown_key)``; no keys asks for all of them."""
        found: list[dict[str, Any]] = []
        unknown: list[str] = []
        for key in dict.fromkeys(keys or KEY_NAMES):
            spec = spec_of(key)
            if spec is None:
                unknown.append(key)
            else:
                found.append(self._entry(spec))
        return found, unknown

    def _entry(self, spec: KeySpec) -> dict[str, Any]:
        entry: dict[str, Any] = {"key": spec.name, "readonly": spec.readonly}
        if not spec.write_only:
            entry["value"] = self.text(spec.name)
        return entry

    def change(self, key: str, value: str) -> ChangeStatus:
        """ChangeConfiguration: validate, then store before answering; a refusal changes nothing."""
        spec = spec_of(key)
        if spec is None:
            return ChangeStatus.NOT_SUPPORTED
        if spec.readonly:
            return ChangeStatus.REJECTED
        new = self._valid(spec, value)
        if new is None or (spec.only_increase and int(new) < self.integer(spec.name)):
            return ChangeStatus.REJECTED
        if new == self.text(spec.name):
            return ChangeStatus.ACCEPTED
        self._store(spec.name, new)
        return ChangeStatus.REBOOT_REQUIRED if spec.reboot else ChangeStatus.ACCEPTED

    def set_internal(self, key: str, value: str) -> None:
        """A change by the charger itself (e.g. falling back to a lower SecurityProfile)."""
        spec = self._spec(key)
        new = self._valid(spec, value)
        if new is None:
            raise ValueError(f"invalid value {value!r} for OCPP configuration key {spec.name}")
        self._store(spec.name, new)

    def _valid(self, spec: KeySpec, value: str) -> str | None:
        new = canonical(spec, value)
        if new and spec.length_key is not None and new.count(",") + 1 > self.integer(spec.length_key):
            return None
        return new

    def _store(self, name: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO configuration VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        self._stored[name] = value

    def text(self, key: str) -> str:
        name = self._spec(key).name
        return self._stored.get(name, self._defaults[name])

    def integer(self, key: str) -> int:
        return int(self._typed(key, Kind.INTEGER))

    def flag(self, key: str) -> bool:
        return self._typed(key, Kind.BOOLEAN) == "true"

    def items(self, key: str) -> list[str]:
        text = self._typed(key, Kind.LIST)
        return text.split(",") if text else []

    def _typed(self, key: str, kind: Kind) -> str:
        spec = self._spec(key)
        if spec.kind is not kind:
            raise TypeError(f"OCPP configuration key {spec.name} is a {spec.kind.value}, not a {kind.value}")
        return self.text(spec.name)

    def _spec(self, key: str) -> KeySpec:
        spec = spec_of(key)
        if spec is None:
            raise KeyError(key)
        return spec

    def close(self) -> None:
        self._db.close()
