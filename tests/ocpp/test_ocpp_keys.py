"""OCPP configuration keys: accessibility (TC_019), validation (TC_040), persistence, special keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from evnetd.ocpp.keys import KEY_NAMES, KEYS, ChangeStatus, ConfigurationKeys

# (readonly, default) of every key; None: write-only, never shown
EXPECTED: dict[str, tuple[bool, str | None]] = {
    "AllowOfflineTxForUnknownId": (False, "false"),
    "AuthorizationCacheEnabled": (False, "true"),
    "AuthorizeRemoteTxRequests": (False, "false"),
    "ClockAlignedDataInterval": (False, "0"),
    "ConnectionTimeOut": (False, "60"),
    "ConnectorPhaseRotation": (False, "1.NotApplicable"),
    "ConnectorPhaseRotationMaxLength": (True, "2"),
    "GetConfigurationMaxKeys": (True, "100"),
    "HeartbeatInterval": (False, "300"),
    "LightIntensity": (False, "100"),
    "LocalAuthorizeOffline": (False, "true"),
    "LocalPreAuthorize": (False, "false"),
    "MaxEnergyOnInvalidId": (False, "0"),
    "MeterValuesAlignedData": (False, "Energy.Active.Import.Register"),
    "MeterValuesAlignedDataMaxLength": (True, "10"),
    "MeterValuesSampledData": (False, "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"),
    "MeterValuesSampledDataMaxLength": (True, "10"),
    "MeterValueSampleInterval": (False, "60"),
    "MessageTimeout": (False, "30"),
    "MinimumStatusDuration": (False, "0"),
    "NumberOfConnectors": (True, "1"),
    "ResetRetries": (False, "1"),
    "StopTransactionOnEVSideDisconnect": (False, "true"),
    "StopTransactionOnInvalidId": (False, "true"),
    "StopTransactionMaxMeterValues": (False, "100"),
    "StopTxnAlignedData": (False, ""),
    "StopTxnAlignedDataMaxLength": (True, "10"),
    "StopTxnSampledData": (False, "Energy.Active.Import.Register"),
    "StopTxnSampledDataMaxLength": (True, "10"),
    "SupportedFeatureProfiles": (
        True,
        "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger",
    ),
    "SupportedFeatureProfilesMaxLength": (True, "6"),
    "TransactionMessageAttempts": (False, "3"),
    "TransactionMessageRetryInterval": (False, "60"),
    "UnlockConnectorOnEVSideDisconnect": (False, "true"),
    "WebSocketPingInterval": (False, "60"),
    "LocalAuthListEnabled": (False, "true"),
    "LocalAuthListMaxLength": (True, "1000"),
    "SendLocalListMaxLength": (True, "100"),
    "ReserveConnectorZeroSupported": (True, "false"),
    "ChargeProfileMaxStackLevel": (True, "8"),
    "ChargingScheduleAllowedChargingRateUnit": (True, "Current,Power"),
    "ChargingScheduleMaxPeriods": (True, "24"),
    "ConnectorSwitch3to1PhaseSupported": (True, "false"),
    "MaxChargingProfilesInstalled": (True, "16"),
    "SupportedFileTransferProtocols": (True, "HTTP,HTTPS,FTP"),
    "AdditionalRootCertificateCheck": (True, "false"),
    "AuthorizationKey": (False, None),
    "CertificateSignedMaxChainSize": (True, "10000"),
    "CertificateStoreMaxLength": (True, "20"),
    "CpoName": (False, ""),
    "SecurityProfile": (False, "0"),
    "CompositeScheduleDefaultNumberPhases": (True, "1"),
    "LegacyFirmwareUpdateEnabled": (False, "true"),
    "SupplyVoltage": (True, "230"),
}

# spec §9 / OCTT TC_019: keys that must be read-write (R-or-RW keys are not listed)
MUST_BE_WRITABLE = [
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "ConnectorPhaseRotation",
    "HeartbeatInterval",
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "MeterValuesAlignedData",
    "MeterValuesSampledData",
    "MeterValueSampleInterval",
    "ResetRetries",
    "StopTransactionOnInvalidId",
    "StopTxnAlignedData",
    "StopTxnSampledData",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
    "LocalAuthListEnabled",
]
MUST_BE_READONLY = [
    "GetConfigurationMaxKeys",
    "NumberOfConnectors",
    "SupportedFeatureProfiles",
    "LocalAuthListMaxLength",
    "SendLocalListMaxLength",
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargingScheduleMaxPeriods",
    "MaxChargingProfilesInstalled",
]


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[ConfigurationKeys]:
    store = ConfigurationKeys(tmp_path / "config.db")
    yield store
    store.close()


def test_the_table_is_the_expected_one() -> None:
    assert set(KEY_NAMES) == set(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_key_is_reported_with_its_accessibility_and_default(keys: ConfigurationKeys, name: str) -> None:
    readonly, value = EXPECTED[name]
    found, unknown = keys.get([name])
    expected: dict[str, object] = {"key": name, "readonly": readonly}
    if value is not None:
        expected["value"] = value
    assert (found, unknown) == ([expected], [])


@pytest.mark.parametrize("name", MUST_BE_WRITABLE)
def test_tc019_read_write_keys(name: str) -> None:
    assert not KEYS[name].readonly


@pytest.mark.parametrize("name", MUST_BE_READONLY)
def test_tc019_read_only_keys(name: str) -> None:
    assert KEYS[name].readonly


def test_get_all_keys_and_a_request_of_max_keys_size(keys: ConfigurationKeys) -> None:
    requests: tuple[list[str] | None, ...] = (None, [])
    for request in requests:
        found, unknown = keys.get(request)
        assert [entry["key"] for entry in found] == list(KEY_NAMES) and unknown == []
    assert len(KEY_NAMES) <= keys.integer("GetConfigurationMaxKeys")
    found, unknown = keys.get(list(KEY_NAMES))
    assert len(found) == len(KEY_NAMES) and unknown == []


def test_unknown_keys_are_listed_as_given_and_names_match_in_any_case(keys: ConfigurationKeys) -> None:
    found, unknown = keys.get(["heartbeatINTERVAL", "Testing", "HeartbeatInterval"])
    assert found == [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}] * 2
    assert unknown == ["Testing"]
    assert keys.change("heartbeatinterval", "900") is ChangeStatus.ACCEPTED
    assert keys.integer("HEARTBEATINTERVAL") == 900


@pytest.mark.parametrize(
    ("key", "value", "status", "after"),
    [
        ("Testing", "1", ChangeStatus.NOT_SUPPORTED, None),  # TC_040_1
        ("MeterValueSampleInterval", "-1", ChangeStatus.REJECTED, "60"),  # TC_040_2
        ("MeterValueSampleInterval", "abc", ChangeStatus.REJECTED, "60"),
        ("MeterValueSampleInterval", "1.5", ChangeStatus.REJECTED, "60"),
        ("MeterValueSampleInterval", "", ChangeStatus.REJECTED, "60"),
        ("MeterValueSampleInterval", "86401", ChangeStatus.REJECTED, "60"),
        ("MeterValueSampleInterval", "0", ChangeStatus.ACCEPTED, "0"),
        ("MeterValueSampleInterval", "86400", ChangeStatus.ACCEPTED, "86400"),
        ("MeterValueSampleInterval", " 007 ", ChangeStatus.ACCEPTED, "7"),
        ("MeterValueSampleInterval", "+15", ChangeStatus.ACCEPTED, "15"),
        ("HeartbeatInterval", "0", ChangeStatus.ACCEPTED, "0"),
        ("HeartbeatInterval", "99999999999", ChangeStatus.REJECTED, "300"),
        ("ConnectionTimeOut", "0", ChangeStatus.REJECTED, "60"),
        ("ConnectionTimeOut", "5", ChangeStatus.ACCEPTED, "5"),
        ("LightIntensity", "101", ChangeStatus.REJECTED, "100"),
        ("ResetRetries", "11", ChangeStatus.REJECTED, "1"),
        ("TransactionMessageAttempts", "5", ChangeStatus.ACCEPTED, "5"),
        ("MessageTimeout", "0", ChangeStatus.REJECTED, "30"),
        ("StopTransactionMaxMeterValues", "0", ChangeStatus.REJECTED, "100"),
        ("WebSocketPingInterval", "30", ChangeStatus.REBOOT_REQUIRED, "30"),
        ("LocalPreAuthorize", "TRUE", ChangeStatus.ACCEPTED, "true"),
        ("AuthorizeRemoteTxRequests", "True", ChangeStatus.ACCEPTED, "true"),
        ("StopTransactionOnInvalidId", "False", ChangeStatus.ACCEPTED, "false"),
        ("LocalAuthorizeOffline", "yes", ChangeStatus.REJECTED, "true"),
        ("LocalAuthorizeOffline", "1", ChangeStatus.REJECTED, "true"),
        ("MeterValuesSampledData", "voltage, Current.Import", ChangeStatus.ACCEPTED, "Voltage,Current.Import"),
        ("MeterValuesSampledData", "", ChangeStatus.ACCEPTED, ""),
        ("MeterValuesSampledData", "Energy.Reactive.Import.Register", ChangeStatus.REJECTED, None),
        ("MeterValuesSampledData", "Voltage,Voltage", ChangeStatus.REJECTED, None),
        ("MeterValuesSampledData", "Voltage,,Current.Import", ChangeStatus.REJECTED, None),
        ("MeterValuesAlignedData", "Energy.Active.Import.Interval", ChangeStatus.ACCEPTED, None),
        ("StopTxnSampledData", "Power.Factor,Temperature", ChangeStatus.ACCEPTED, None),
        ("StopTxnAlignedData", "Current.Offered,Power.Offered", ChangeStatus.ACCEPTED, None),
        ("ConnectorPhaseRotation", "0.RST,1.rst", ChangeStatus.ACCEPTED, "0.RST,1.RST"),
        ("ConnectorPhaseRotation", "2.RST", ChangeStatus.REJECTED, "1.NotApplicable"),
        ("ConnectorPhaseRotation", "0.RST,1.RST,NotApplicable", ChangeStatus.REJECTED, "1.NotApplicable"),
        ("NumberOfConnectors", "2", ChangeStatus.REJECTED, "1"),
        ("NumberOfConnectors", "1", ChangeStatus.REJECTED, "1"),
        ("SupportedFeatureProfiles", "Core", ChangeStatus.REJECTED, None),
        ("GetConfigurationMaxKeys", "10", ChangeStatus.REJECTED, "100"),
        ("SupplyVoltage", "240", ChangeStatus.REJECTED, "230"),
        ("CpoName", "ACME Charging", ChangeStatus.ACCEPTED, "ACME Charging"),
        ("CpoName", "x" * 501, ChangeStatus.REJECTED, ""),
        ("CpoName", "bad\nname", ChangeStatus.REJECTED, ""),
        ("SecurityProfile", "4", ChangeStatus.REJECTED, "0"),
        ("SecurityProfile", "1", ChangeStatus.ACCEPTED, "1"),
        ("LegacyFirmwareUpdateEnabled", "false", ChangeStatus.ACCEPTED, "false"),
    ],
)
def test_change(tmp_path: Path, key: str, value: str, status: ChangeStatus, after: str | None) -> None:
    keys = ConfigurationKeys(tmp_path / "config.db")
    before = {name: keys.text(name) for name in KEY_NAMES}
    assert keys.change(key, value) is status
    keys.close()

    keys = ConfigurationKeys(tmp_path / "config.db")  # what was answered is what is on disk
    now = {name: keys.text(name) for name in KEY_NAMES}
    changed = {name for name in KEY_NAMES if now[name] != before[name]}
    if status in (ChangeStatus.ACCEPTED, ChangeStatus.REBOOT_REQUIRED):
        expected = value.strip() if after is None else after
        assert now[KEYS[key].name] == expected
        assert changed <= {KEYS[key].name}
    else:
        assert changed == set()  # a refusal changes nothing
        if after is not None:
            assert now[key] == after
    keys.close()


@pytest.mark.parametrize(("key", "value"), [("HeartbeatInterval", "300"), ("WebSocketPingInterval", "60")])
def test_changing_to_the_same_value_is_accepted(keys: ConfigurationKeys, key: str, value: str) -> None:
    assert keys.change(key, value) is ChangeStatus.ACCEPTED


def test_lists_are_bounded_by_their_max_length_key(tmp_path: Path) -> None:
    keys = ConfigurationKeys(tmp_path / "config.db", {"MeterValuesSampledDataMaxLength": "2"})
    assert keys.change("MeterValuesSampledData", "Voltage,Current.Import,Power.Active.Import") is ChangeStatus.REJECTED
    assert keys.change("MeterValuesSampledData", "Voltage,Current.Import") is ChangeStatus.ACCEPTED
    assert keys.items("MeterValuesSampledData") == ["Voltage", "Current.Import"]
    keys.close()


def test_security_profile_only_increases_except_by_the_charger(keys: ConfigurationKeys) -> None:
    assert keys.change("SecurityProfile", "2") is ChangeStatus.ACCEPTED
    assert keys.change("SecurityProfile", "1") is ChangeStatus.REJECTED
    assert keys.change("SecurityProfile", "0") is ChangeStatus.REJECTED
    assert keys.change("SecurityProfile", "2") is ChangeStatus.ACCEPTED
    assert keys.integer("SecurityProfile") == 2
    keys.set_internal("SecurityProfile", "1")  # the charger falls back when the new profile fails
    assert keys.integer("SecurityProfile") == 1
    assert keys.change("SecurityProfile", "3") is ChangeStatus.ACCEPTED


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("0123456789ABCDE", ChangeStatus.REJECTED),
        ("0123456789ABCDEF", ChangeStatus.ACCEPTED),
        ("A" * 40, ChangeStatus.ACCEPTED),
        ("A" * 41, ChangeStatus.REJECTED),
    ],
)
def test_authorization_key_length(keys: ConfigurationKeys, value: str, status: ChangeStatus) -> None:
    assert keys.change("AuthorizationKey", value) is status


def test_authorization_key_is_never_disclosed(tmp_path: Path) -> None:
    secret = "DEADBEEFDEADBEEF0011"
    keys = ConfigurationKeys(tmp_path / "config.db")
    assert keys.change("AuthorizationKey", secret) is ChangeStatus.ACCEPTED
    keys.close()
    keys = ConfigurationKeys(tmp_path / "config.db")
    for request in (None, ["AuthorizationKey"], ["authorizationkey"]):
        found, unknown = keys.get(request)
        assert unknown == []
        assert {"key": "AuthorizationKey", "readonly": False} in found
        assert all(entry.get("value") != secret for entry in found)
    assert keys.text("AuthorizationKey") == secret  # the websocket client needs it
    keys.close()


def test_installer_values_are_defaults_and_stored_values_win(tmp_path: Path) -> None:
    initial = {"HeartbeatInterval": "120", "supplyvoltage": "240", "LocalPreAuthorize": "TRUE", "CpoName": "Home"}
    keys = ConfigurationKeys(tmp_path / "config.db", initial)
    assert (keys.integer("HeartbeatInterval"), keys.integer("SupplyVoltage")) == (120, 240)
    assert keys.text("LocalPreAuthorize") == "true" and keys.text("CpoName") == "Home"
    assert keys.change("HeartbeatInterval", "600") is ChangeStatus.ACCEPTED
    keys.close()
    keys = ConfigurationKeys(tmp_path / "config.db", initial)
    assert keys.integer("HeartbeatInterval") == 600
    keys.close()


@pytest.mark.parametrize(
    "initial",
    [
        {"Testing": "1"},
        {"HeartbeatInterval": "-5"},
        {"AuthorizationKey": "short"},
        {"MeterValuesSampledDataMaxLength": "1", "MeterValuesSampledData": "Voltage,Current.Import"},
    ],
)
def test_wrong_installer_values_are_refused(tmp_path: Path, initial: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        ConfigurationKeys(tmp_path / "config.db", initial)


def test_set_internal_bypasses_read_only_but_not_validation(keys: ConfigurationKeys) -> None:
    keys.set_internal("NumberOfConnectors", "1")
    keys.set_internal("CertificateStoreMaxLength", "30")
    assert keys.integer("CertificateStoreMaxLength") == 30
    with pytest.raises(ValueError):
        keys.set_internal("HeartbeatInterval", "-1")
    with pytest.raises(KeyError):
        keys.set_internal("Testing", "1")


def test_typed_accessors(keys: ConfigurationKeys) -> None:
    assert keys.integer("HeartbeatInterval") == 300
    assert keys.flag("LocalAuthorizeOffline") is True and keys.flag("LocalPreAuthorize") is False
    assert keys.items("SupportedFileTransferProtocols") == ["HTTP", "HTTPS", "FTP"]
    assert keys.items("StopTxnAlignedData") == []
    with pytest.raises(TypeError):
        keys.integer("LocalPreAuthorize")
    with pytest.raises(TypeError):
        keys.flag("HeartbeatInterval")
    with pytest.raises(KeyError):
        keys.text("Testing")


def test_a_stored_value_a_newer_version_no_longer_accepts_is_dropped(tmp_path: Path) -> None:
    ConfigurationKeys(tmp_path / "config.db").close()
    db = sqlite3.connect(tmp_path / "config.db")
    db.executemany("INSERT INTO configuration VALUES (?, ?)", [("HeartbeatInterval", "-3"), ("Gone", "1")])
    db.commit()
    db.close()
    keys = ConfigurationKeys(tmp_path / "config.db")
    assert keys.integer("HeartbeatInterval") == 300
    keys.close()
