"""401 without a login, 403 without the CSRF token, 429 after wrong PINs, and what every answer carries."""

from __future__ import annotations

import http.client
import json
import ssl
from urllib.parse import urlsplit

import pytest

from tests.web.client import WebClient
from tests.web.conftest import WebStack

pytestmark = pytest.mark.integration


def test_unauthenticated_is_401(stack: WebStack) -> None:
    anonymous = stack.client()
    for method, path in (("GET", "/status"), ("GET", "/events"), ("PATCH", "/settings/charger"),
                         ("GET", "/diagnostics"), ("POST", "/api-tokens")):  # fmt: skip
        answer = anonymous.request(method, path, {} if method != "GET" else None)
        assert answer.status_code == 401, (method, path)
        assert answer.json() == {"error": "not logged in", "field": None, "rule": None}
    forged = WebClient(stack.url, stack.certificate)
    forged.http.cookies.set("evnet_session", "forged")
    assert forged.get("/status").status_code == 401
    assert anonymous.get("/status", headers={"Authorization": "Bearer evnet_guess"}).status_code == 401


def test_a_change_without_the_csrf_token_is_403_and_changes_nothing(stack: WebStack) -> None:
    client = stack.logged_in()
    before = client.get("/settings/charger").json()
    for headers in ({}, {"X-CSRF-Token": "wrong"}):
        refused = client.request("PATCH", "/settings/charger", {"user_max_a": 10}, csrf=False, headers=headers)
        assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["error"]
        assert client.request("POST", "/actions/stop", {}, csrf=False, headers=headers).status_code == 403
    assert client.get("/settings/charger").json() == before
    assert client.get("/status").status_code == 200  # reading needs no token


def test_the_session_cookie_is_httponly_strict_and_secure(stack: WebStack) -> None:
    answer = stack.client().post("/login", {"pin": stack.pin})
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("evnet_session=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/"):
        assert attribute in cookie, cookie
    assert stack.pin not in answer.text


def test_logout_ends_the_session(stack: WebStack) -> None:
    client = stack.logged_in()
    assert client.post("/logout").status_code == 204
    assert client.get("/status").status_code == 401


def _login_from(stack: WebStack, source: str, pin: str) -> http.client.HTTPResponse:
    """A login from another loopback address (the limit is per client address)."""
    url = urlsplit(stack.url)
    context = ssl.create_default_context(cafile=str(stack.certificate))
    connection = http.client.HTTPSConnection(url.hostname or "", url.port, context=context,
                                             source_address=(source, 0), timeout=10)  # fmt: skip
    connection.request("POST", "/api/v1/login", json.dumps({"pin": pin}), {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_wrong_pins_are_rate_limited_per_address(stack: WebStack) -> None:
    wrong = "000000" if stack.pin != "000000" else "111111"
    statuses = [_login_from(stack, "127.0.0.2", wrong).status for _ in range(3)]  # login_attempts = 3 here
    assert statuses == [401, 401, 401]
    limited = _login_from(stack, "127.0.0.2", stack.pin)  # even the right PIN, while limited
    assert limited.status == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 300
    assert _login_from(stack, "127.0.0.3", stack.pin).status == 200  # another address is not affected


def test_bad_bodies_are_4xx_never_5xx(stack: WebStack) -> None:
    client = stack.logged_in()
    headers = {"X-CSRF-Token": client.csrf or ""}
    url = stack.url + "/api/v1/settings/charger"
    as_form = client.http.patch(url, data="user_max_a=16", headers=headers, timeout=10)
    assert as_form.status_code == 415
    for body in ("{", "[1, 2]", "null", '{"user_max_a": NaN}', '{"user_max_a": 1e999}'):
        answer = client.http.patch(url, data=body, headers={**headers, "Content-Type": "application/json"},
                                   timeout=10)  # fmt: skip
        assert answer.status_code == 400, body
        assert answer.json()["field"] in ("body", "user_max_a")
    huge = client.http.post(stack.url + "/api/v1/api-tokens", data=b"x" * 300_000,
                            headers={**headers, "Content-Type": "application/json"}, timeout=10)  # fmt: skip
    assert huge.status_code == 413
    assert client.get("/no-such-thing").status_code == 404


def test_headers_of_pages_and_api(stack: WebStack) -> None:
    client = stack.logged_in()
    for response in (client.http.get(stack.url + "/", timeout=10), client.get("/status")):
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "aiohttp" not in response.headers.get("Server", "")
    assert client.get("/status").headers["Cache-Control"] == "no-store"


def test_the_certificate_is_the_devices_own(stack: WebStack) -> None:
    """An app can pin it: the served certificate is the one in STATE_DIR/web."""
    url = urlsplit(stack.url)
    served = ssl.get_server_certificate((url.hostname or "", url.port or 443))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(stack.certificate.read_text())
    key = stack.certificate.with_name("key.pem")
    assert key.stat().st_mode & 0o077 == 0
    assert (stack.certificate.parent / "pin").stat().st_mode & 0o077 == 0
