"""Every endpoint of /api/v1 against the real web service on the simulated board."""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
import time
from typing import Any

import pytest
import requests
import yaml

from tests.web.client import WebClient
from tests.web.conftest import WebStack, wait_until

pytestmark = pytest.mark.integration


def _status(api: WebClient) -> dict[str, Any]:
    response = api.get("/status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_documented_operation_is_served_and_needs_a_login(stack: WebStack) -> None:
    """The OpenAPI document is public; each operation in it exists (401, not 404/405) unless public."""
    anonymous = stack.client()
    response = anonymous.get("/openapi.yaml")
    assert response.status_code == 200
    document = yaml.safe_load(response.text)
    assert document["openapi"].startswith("3.1")
    operations = [(method.upper(), path, op) for path, item in document["paths"].items() for method, op in item.items()]
    assert len(operations) >= 25
    for method, path, operation in operations:
        concrete = path.replace("{uid}", "04A1B2C3").replace("{id}", "1")
        answer = anonymous.request(method, concrete, {} if method in ("POST", "PATCH") else None)
        expected = 400 if operation.get("security") == [] else 401  # the login itself: no PIN given
        assert answer.status_code == expected, (method, path, answer.status_code, answer.text)
        assert answer.json()["error"]


def test_pages_are_served_with_their_assets(stack: WebStack) -> None:
    client = stack.client()
    index = client.http.get(stack.url + "/", timeout=10)
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    assert "app.js" in index.text
    assert client.http.get(stack.url + "/app.js", timeout=10).status_code == 200
    for path in ("/nothing-here.js", "/../pyproject.toml", "/%2e%2e/%2e%2e/pyproject.toml"):
        assert client.http.get(stack.url + path, timeout=10).status_code == 404, path


def test_status_is_evnetctl_status_plus_energy_and_ocpp(stack: WebStack, api: WebClient) -> None:
    keys = ("status", "pilot", "limit_source", "locked", "contactor_closed", "services")

    def same() -> bool:  # read twice: the two may straddle a change
        ours, theirs = _status(api), stack.sim.status()
        assert set(theirs) <= set(ours)
        return all(ours[key] == theirs[key] for key in keys)

    wait_until(same, "the same status from both")
    ours = _status(api)
    assert {"limit_a", "reason", "source", "mode"} <= set(ours["energy"])
    assert ours["ocpp"]["connected"] is False and ours["ocpp"]["charge_point_id"]
    assert ours["station_name"]


def test_session_endpoint_tells_who_and_the_csrf_token(api: WebClient) -> None:
    body = api.get("/session").json()
    assert body["method"] == "session" and body["csrf_token"] == api.csrf
    assert body["expires_at"] > time.time() + 3600


def test_charger_settings_round_trip_and_the_offered_current_follows(stack: WebStack, api: WebClient) -> None:
    before = api.get("/settings/charger").json()
    assert set(before) == {"user_max_a", "auth_mode", "offline_charge", "keep_awake", "led_brightness",
                           "station_name"}  # fmt: skip
    changed = api.patch("/settings/charger", {"user_max_a": 16, "led_brightness": "medium", "station_name": "Garage"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**before, "user_max_a": 16.0, "led_brightness": "medium", "station_name": "Garage"}
    wait_until(lambda: stack.sim.status()["offered_current_a"] == 16.0, "the offered current to follow")
    assert _status(api)["limit_source"] == "user"
    assert _status(api)["station_name"] == "Garage"
    assert api.patch("/settings/charger", {"user_max_a": 32}).status_code == 200
    wait_until(lambda: stack.sim.status()["offered_current_a"] == 32.0, "the user maximum to be lifted")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/settings/charger", {"user_max_a": 10, "led_brightness": "ultra"}, "led_brightness"),
        ("/settings/charger", {"station_name": "ok", "user_max_a": 33}, "user_max_a"),
        ("/settings/charger", {"user_max_a": 10, "turbo": True}, "turbo"),
        ("/settings/energy", {"main_fuse_a": 25, "windows": ["Mo-Fr 22:00-06:00 maybe"]}, "windows"),
        ("/settings/energy", {"mode": "solar", "safe_current_a": 3}, "safe_current_a"),
        ("/settings/ocpp", {"url": "ws://127.0.0.1:9/x", "password": "0123456789abcdef", "security_profile": 2}, "url"),
        ("/settings/ocpp", {"url": "ws://127.0.0.1:9/ocpp", "password": "short"}, "password"),
    ],
)
def test_invalid_settings_are_400_with_field_and_rule_and_nothing_changes(
    api: WebClient, path: str, body: dict[str, Any], field: str
) -> None:
    before = api.get(path).json()
    refused = api.patch(path, body)
    assert refused.status_code == 400, refused.text
    answer = refused.json()
    assert answer["field"] == field and answer["rule"] and field in answer["error"]
    assert api.get(path).json() == before


def test_energy_settings_round_trip(api: WebClient) -> None:
    before = api.get("/settings/energy").json()
    assert {"mode", "main_fuse_a", "windows", "cheap", "sharing"} <= set(before)
    changed = api.patch("/settings/energy", {"main_fuse_a": 25, "windows": ["Mo-Fr  22:00-06:00 allow"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["main_fuse_a"] == 25.0 and changed.json()["windows"] == ["Mo-Fr 22:00-06:00 allow"]
    restored = api.patch("/settings/energy", {"main_fuse_a": before["main_fuse_a"], "windows": before["windows"]})
    assert restored.json() == before


def test_ocpp_settings_round_trip_and_the_password_never_comes_back(api: WebClient) -> None:
    before = api.get("/settings/ocpp").json()
    assert before["url"] == "" and before["security_profile"] == 0 and before["password_set"] is False
    password = "Sup3r-Secret-Passw0rd"
    changed = api.patch("/settings/ocpp", {"url": "ws://127.0.0.1:9/ocpp", "charge_point_id": "CP-WEB-1",
                                           "password": password, "security_profile": 1})  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["url"] == "ws://127.0.0.1:9/ocpp" and changed.json()["charge_point_id"] == "CP-WEB-1"
    assert changed.json()["security_profile"] == 1 and changed.json()["password_set"] is True
    for response in (changed, api.get("/settings/ocpp"), api.get("/status")):
        assert password not in response.text and 'password"' not in response.text.replace("password_set", "")
    wait_until(lambda: _status(api)["ocpp"]["url"] == "ws://127.0.0.1:9/ocpp", "the OCPP service to take the URL")
    lowered = api.patch("/settings/ocpp", {"security_profile": 0})
    assert lowered.status_code == 400 and lowered.json()["field"] == "security_profile"
    assert api.patch("/settings/ocpp", {"url": ""}).json()["url"] == ""  # offline again


def _root_certificate() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CSMS root")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_certificate_upload(api: WebClient) -> None:
    answer = api.post("/settings/ocpp/certificates", {"certificate_type": "CentralSystemRootCertificate",
                                                      "pem": _root_certificate()})  # fmt: skip
    assert answer.status_code == 200 and answer.json() == {"status": "Accepted"}
    broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    rejected = api.post("/settings/ocpp/certificates", {"certificate_type": "CentralSystemRootCertificate",
                                                        "pem": broken})  # fmt: skip
    assert rejected.status_code == 200 and rejected.json()["status"] in ("Rejected", "Failed")


def test_rfid_tokens_add_list_remove_and_learn(stack: WebStack, api: WebClient) -> None:
    added = api.post("/rfid-tokens", {"uid": "04:a1:b2:c3", "label": "Anna"})
    assert added.status_code == 201 and added.json() == {"uid": "04A1B2C3", "label": "Anna"}
    listed = api.get("/rfid-tokens").json()
    assert {"uid": "04A1B2C3", "label": "Anna"} in listed["tokens"] and listed["learning"] is False
    assert api.delete("/rfid-tokens/04A1B2C3").status_code == 204
    assert api.delete("/rfid-tokens/04A1B2C3").status_code == 404
    assert api.delete("/rfid-tokens/not-a-uid").status_code == 400
    learn = api.post("/rfid-tokens/learn", {"timeout_s": 30})
    assert learn.status_code == 202 and learn.json() == {"learning": True, "timeout_s": 30.0}
    assert api.get("/rfid-tokens").json()["learning"] is True
    stack.sim.ctl("sim", "rfid", "A1B2C3D4E5F601")
    wait_until(lambda: "A1B2C3D4E5F601" in [t["uid"] for t in api.get("/rfid-tokens").json()["tokens"]],
               "the presented card to be learnt")  # fmt: skip
    assert api.get("/rfid-tokens").json()["learning"] is False
    assert api.delete("/rfid-tokens/A1B2C3D4E5F601").status_code == 204


def test_live_events_follow_the_charger(stack: WebStack, api: WebClient) -> None:
    with api.http.get(stack.url + "/api/v1/events", stream=True, timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = _events(stream)
        first = next(events)
        assert first["pilot"] == "A"
        stack.sim.ctl("sim", "plug")
        changed_at = time.monotonic()
        while (status := next(events))["pilot"] != "B":
            assert time.monotonic() - changed_at < 5, status
        assert time.monotonic() - changed_at < 2.0
    stack.sim.ctl("sim", "unplug")
    wait_until(lambda: _status(api)["pilot"] == "A", "the unplug")


def _events(stream: requests.Response) -> Any:
    data = ""
    for line in stream.iter_lines(decode_unicode=True):
        if line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            yield json.loads(data)
            data = ""


def test_actions_and_a_session_in_the_history_and_the_csv(stack: WebStack, api: WebClient) -> None:
    count = len(api.get("/sessions").json()["sessions"])
    assert api.patch("/settings/charger", {"auth_mode": "app"}).status_code == 200  # only a start starts
    stack.sim.ctl("sim", "plug")
    assert api.post("/actions/start", {"id_tag": "APP-1"}).status_code == 204
    stack.sim.ctl("sim", "ev-state", "C")
    wait_until(lambda: _status(api)["status"] == "Charging", "Charging")
    assert _status(api)["session"]["id_tag"] == "APP-1"
    assert api.post("/actions/stop").status_code == 204
    wait_until(lambda: _status(api)["session"] is None, "the session to stop")
    stack.sim.ctl("sim", "ev-state", "B")
    assert api.post("/actions/unlock").status_code in (204, 409)
    stack.sim.ctl("sim", "unplug")
    assert api.patch("/settings/charger", {"auth_mode": "free"}).status_code == 200
    sessions = api.get("/sessions", params={"limit": 5}).json()["sessions"]
    assert len(sessions) == min(count + 1, 5)
    newest = sessions[0]
    assert newest["id_tag"] == "APP-1" and newest["stopped_at"] is not None and newest["stop_reason"]
    csv_answer = api.get("/sessions.csv", params={"limit": 5})
    assert csv_answer.status_code == 200 and csv_answer.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["Content-Disposition"]
    rows = csv_answer.text.splitlines()
    assert rows[0].startswith("id,id_tag,started_at") and len(rows) == len(sessions) + 1
    assert rows[1].startswith(f"{newest['id']},APP-1,")
    assert api.get("/sessions", params={"limit": 0}).json()["field"] == "limit"


def test_faults_rcd_selftest_and_clear_faults(stack: WebStack, api: WebClient) -> None:
    assert api.post("/actions/rcd-selftest").status_code == 204
    wait_until(lambda: _status(api)["rcd_selftest"] == "passed", "the RCD self-test")
    stack.sim.ctl("sim", "fault", "tamper", "on")
    wait_until(lambda: "tamper" in api.get("/faults").json()["active"], "the tamper fault")
    stack.sim.ctl("sim", "fault", "tamper", "off")
    cleared = api.post("/actions/clear-faults")
    assert cleared.status_code == 200 and "tamper" in cleared.json()["cleared"]
    faults = api.get("/faults", params={"limit": 10}).json()
    assert "tamper" not in faults["active"]
    tamper = next(f for f in faults["history"] if f["fault"] == "tamper")
    assert tamper["source"] == "meter" and tamper["cleared_at"] is not None


def test_journal_tail(api: WebClient) -> None:
    answer = api.get("/journal", params={"lines": 5}).json()
    assert answer["source"] == "sim-log" and 1 <= len(answer["entries"]) <= 5
    assert any(entry["unit"] and entry["unit"].startswith("evnet-") for entry in api.get("/journal").json()["entries"])
    assert api.get("/journal", params={"lines": "lots"}).status_code == 400


def test_api_tokens_work_instead_of_the_cookie_and_are_shown_once(stack: WebStack, api: WebClient) -> None:
    created = api.post("/api-tokens", {"name": "Home Assistant"})
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    listed = api.get("/api-tokens")
    assert secret not in listed.text and any(t["id"] == token_id for t in listed.json()["tokens"])
    app = WebClient(stack.url, stack.certificate)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert app.get("/status", headers=bearer).status_code == 200
    assert app.get("/session", headers=bearer).json() == {"method": "token", "csrf_token": None, "expires_at": None,
                                                          "token_name": "Home Assistant"}  # fmt: skip
    # no CSRF token needed with a bearer token
    assert app.patch("/settings/charger", {"led_brightness": "high"}, headers=bearer).status_code == 200
    assert api.delete(f"/api-tokens/{token_id}").status_code == 204
    assert api.delete(f"/api-tokens/{token_id}").status_code == 404
    assert app.get("/status", headers=bearer).status_code == 401


def test_diagnostics_bundle_has_the_parts_and_no_secret(stack: WebStack, api: WebClient) -> None:
    password = "An0ther-Secret-Passw0rd"
    assert api.patch("/settings/ocpp", {"password": password}).status_code == 200
    token = api.post("/api-tokens", {"name": "bundle check"}).json()["token"]
    answer = api.get("/diagnostics")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/gzip"
    assert "attachment" in answer.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(answer.content), mode="r:gz") as archive:
        files = {m.name.split("/", 1)[1]: archive.extractfile(m).read().decode() for m in archive.getmembers()}  # type: ignore[union-attr]
    assert set(files) == {"status.json", "settings.json", "config.json", "faults.json", "sessions.json", "journal.txt"}
    assert json.loads(files["status.json"])["services"]
    assert json.loads(files["settings.json"])["charger"]["station_name"]
    assert json.loads(files["config.json"])["general"]["charge_point_id"]
    assert files["journal.txt"].startswith("# sim-log")
    session_cookie = api.http.cookies["evnet_session"]
    everything = "".join(files.values())
    for secret in (stack.pin, password, token, session_cookie, api.csrf or "?"):
        assert secret not in everything
