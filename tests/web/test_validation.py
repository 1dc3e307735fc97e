"""The API's input rules: each bad field is named with its rule; good input becomes D-Bus values."""

from __future__ import annotations

from typing import Any

import pytest
from dbus_fast import Variant

from evnetd.web import validation
from evnetd.web.validation import InputError, OcppChange, OcppConnection


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"user_max_a": 16}, {"user_max_a": Variant("d", 16.0)}),
        ({"user_max_a": 6.0, "auth_mode": "rfid"},
         {"user_max_a": Variant("d", 6.0), "auth_mode": Variant("s", "rfid")}),
        ({"offline_charge": False, "keep_awake": "pulse"},
         {"offline_charge": Variant("b", False), "keep_awake": Variant("s", "pulse")}),
        ({"led_brightness": "low", "station_name": "Garage é"},
         {"led_brightness": Variant("s", "low"), "station_name": Variant("s", "Garage é")}),
    ],
)  # fmt: skip
def test_charger_settings_accepted(body: dict[str, Any], expected: dict[str, Variant]) -> None:
    assert validation.charger_settings(body) == expected


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"user_max_a": 40}, "user_max_a", "must be whole amps from 6 to 32"),
        ({"user_max_a": 5}, "user_max_a", "must be whole amps from 6 to 32"),
        ({"user_max_a": 16.5}, "user_max_a", "must be whole amps from 6 to 32"),
        ({"user_max_a": "16"}, "user_max_a", "must be whole amps from 6 to 32"),
        ({"user_max_a": True}, "user_max_a", "must be whole amps from 6 to 32"),
        ({"auth_mode": "local"}, "auth_mode", "must be one of free, rfid, app, ocpp"),
        ({"offline_charge": 1}, "offline_charge", "must be true or false"),
        ({"keep_awake": "on"}, "keep_awake", "must be one of off, minimum, pulse"),
        ({"led_brightness": "max"}, "led_brightness", "must be one of low, medium, high"),
        ({"station_name": ""}, "station_name", "must be 1 to 40 printable characters"),
        ({"station_name": "x" * 41}, "station_name", "must be 1 to 40 printable characters"),
        ({"station_name": "a\nb"}, "station_name", "must be 1 to 40 printable characters"),
        ({"colour": "red"}, "colour", "unknown field (known: user_max_a, auth_mode, offline_charge, keep_awake, "
                                      "led_brightness, station_name)"),
        ({}, "body", "must name at least one of user_max_a, auth_mode, offline_charge, keep_awake, led_brightness, "
                     "station_name"),
        ([], "body", "must be a JSON object"),
        # one bad field rejects the request whole, wherever it is
        ({"user_max_a": 16, "auth_mode": "bogus"}, "auth_mode", "must be one of free, rfid, app, ocpp"),
    ],
)  # fmt: skip
def test_charger_settings_refused(body: Any, field: str, rule: str) -> None:
    with pytest.raises(InputError) as refused:
        validation.charger_settings(body)
    assert (refused.value.field, refused.value.rule) == (field, rule)


def test_energy_settings_use_energy_managements_rules() -> None:
    assert validation.energy_settings({"main_fuse_a": 25, "windows": ["Mo-Fr  22:00-06:00 allow"]}) == {
        "main_fuse_a": 25.0, "windows": ["Mo-Fr 22:00-06:00 allow"],
    }  # fmt: skip
    with pytest.raises(InputError) as refused:
        validation.energy_settings({"mode": "solar", "windows": ["Mo-Fr 25:00-06:00 allow"]})
    assert refused.value.field == "windows"
    with pytest.raises(InputError) as unknown:
        validation.energy_settings({"turbo": True})
    assert unknown.value.field == "turbo"


NOW = OcppConnection(url="ws://csms.example/ocpp", charge_point_id="CP1", security_profile=1, password_set=True)


@pytest.mark.parametrize(
    ("body", "now", "expected"),
    [
        ({"url": ""}, NOW, OcppChange(url="")),
        ({"url": "wss://csms.example:8443/ocpp", "security_profile": 2},
         NOW, OcppChange(url="wss://csms.example:8443/ocpp", security_profile=2)),
        ({"charge_point_id": "EVNET-7.kW_1"}, NOW, OcppChange(charge_point_id="EVNET-7.kW_1")),
        ({"password": "0123456789abcdef", "security_profile": 1},
         OcppConnection("ws://h/", "CP1", 0, False), OcppChange(security_profile=1, password="0123456789abcdef")),
        # whether a password is set is unknown: the OCPP service judges
        ({"security_profile": 1}, OcppConnection("ws://h/", "CP1", 0, None), OcppChange(security_profile=1)),
    ],
)  # fmt: skip
def test_ocpp_settings_accepted(body: dict[str, Any], now: OcppConnection, expected: OcppChange) -> None:
    assert validation.ocpp_settings(body, now) == expected


URL_RULE = "must be empty (offline) or a ws:// or wss:// URL with a host, at most 512 characters"


@pytest.mark.parametrize(
    ("body", "now", "field", "rule"),
    [
        ({"url": "http://csms.example"}, NOW, "url", URL_RULE),
        ({"url": "ws://"}, NOW, "url", URL_RULE),
        ({"url": 7}, NOW, "url", "must be text"),
        ({"charge_point_id": "CP 1"}, NOW, "charge_point_id", "must be 1 to 48 of A-Z a-z 0-9 . _ -"),
        ({"charge_point_id": "x" * 49}, NOW, "charge_point_id", "must be 1 to 48 of A-Z a-z 0-9 . _ -"),
        ({"security_profile": 0}, NOW, "security_profile", "can only be raised (now 1)"),
        ({"security_profile": 4}, NOW, "security_profile", "must be 0, 1, 2 or 3"),
        ({"security_profile": "2"}, NOW, "security_profile", "must be 0, 1, 2 or 3"),
        # judged with what the request leaves as it is: the URL now is ws://
        ({"security_profile": 2}, NOW, "url", "must be wss:// with security profile 2"),
        ({"security_profile": 1}, OcppConnection("ws://h/", "CP1", 0, False), "password",
         "security profile 1 needs a password"),
        ({"url": ""}, OcppConnection("ws://h/", "CP1", 2, False), "password", "security profile 2 needs a password"),
        ({"password": "short"}, NOW, "password", "must be 16–40 characters"),
        ({"password": "0123456789abcdef", "url": "ftp://x"}, NOW, "url", URL_RULE),
        ({"username": "x"}, NOW, "username", "unknown field (known: url, charge_point_id, security_profile, password)"),
    ],
)  # fmt: skip
def test_ocpp_settings_refused(body: dict[str, Any], now: OcppConnection, field: str, rule: str) -> None:
    with pytest.raises(InputError) as refused:
        validation.ocpp_settings(body, now)
    assert (refused.value.field, refused.value.rule) == (field, rule)


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (validation.certificate, {"certificate_type": "CentralSystemRootCertificate", "pem": "secret stuff"}),
        (lambda body: validation.ocpp_settings(body, NOW), {"password": "secret stuff"}),
        (lambda body: validation.ocpp_settings(body, NOW), {"password": "secret stuff\n1234567890"}),
        (validation.pin, {"pin": "secret stuff" * 10}),
    ],
)
def test_a_refused_secret_is_not_repeated_in_the_message(call: Any, body: dict[str, Any]) -> None:
    with pytest.raises(InputError) as refused:
        call(body)
    assert "secret stuff" not in str(refused.value)
    assert refused.value.value == "(hidden)"


@pytest.mark.parametrize(
    ("call", "body", "expected"),
    [
        (validation.rfid_token, {"uid": "04a1b2c3"}, ("04A1B2C3", "")),
        (validation.rfid_token, {"uid": "04:a1:b2:c3:d4:e5:f6", "label": "Anna"}, ("04A1B2C3D4E5F6", "Anna")),
        (validation.learn_timeout, {}, 30.0),
        (validation.learn_timeout, {"timeout_s": 0}, 0.0),  # stops learning
        (validation.learn_timeout, {"timeout_s": 600}, 600.0),
        (validation.start_id_tag, {}, ""),
        (validation.start_id_tag, {"id_tag": "APP"}, "APP"),
        (validation.token_name, {"name": "Home Assistant"}, "Home Assistant"),
        (validation.pin, {"pin": "123456"}, "123456"),
        (validation.certificate, {"certificate_type": "ManufacturerRootCertificate",
                                  "pem": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"},
         ("ManufacturerRootCertificate", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")),
    ],
)  # fmt: skip
def test_small_bodies_accepted(call: Any, body: dict[str, Any], expected: Any) -> None:
    assert call(body) == expected


@pytest.mark.parametrize(
    ("call", "body", "field"),
    [
        (validation.rfid_token, {"uid": "04A1B2C"}, "uid"),  # odd number of digits
        (validation.rfid_token, {"uid": "04A1B2C3D4"}, "uid"),  # 5 bytes: no ISO 14443A UID
        (validation.rfid_token, {"uid": "GG112233"}, "uid"),
        (validation.rfid_token, {"uid": 4}, "uid"),
        (validation.rfid_token, {"label": "x"}, "uid"),
        (validation.rfid_token, {"uid": "04A1B2C3", "label": "x" * 41}, "label"),
        (validation.learn_timeout, {"timeout_s": 601}, "timeout_s"),
        (validation.learn_timeout, {"timeout_s": float("nan")}, "timeout_s"),
        (validation.start_id_tag, {"id_tag": "x" * 21}, "id_tag"),
        (validation.token_name, {}, "name"),
        (validation.token_name, {"name": ""}, "name"),
        (validation.pin, {}, "pin"),
        (validation.pin, {"pin": 123456}, "pin"),
        (validation.certificate, {"pem": "x"}, "certificate_type"),
        (validation.certificate, {"certificate_type": "Other", "pem": "x"}, "certificate_type"),
        (validation.certificate, {"certificate_type": "ManufacturerRootCertificate", "pem": "x"}, "pem"),
        (validation.no_fields, {"force": True}, "force"),
    ],
)
def test_small_bodies_refused(call: Any, body: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as refused:
        call(body)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("query", "expected"),
    [({}, 50), ({"limit": "1"}, 1), ({"limit": "1000"}, 1000)],
)
def test_query_int(query: dict[str, str], expected: int) -> None:
    assert validation.query_int(query, "limit", 1, 1000, 50) == expected


@pytest.mark.parametrize("text", ["0", "1001", "-1", "ten", "1e3", "", "99999999999999999999"])
def test_query_int_refused(text: str) -> None:
    with pytest.raises(InputError) as refused:
        validation.query_int({"limit": text}, "limit", 1, 1000, 50)
    assert (refused.value.field, refused.value.rule) == ("limit", "must be a whole number 1–1000")
