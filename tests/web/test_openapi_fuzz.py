"""Property-based requests from the served OpenAPI document (schemathesis): no 5xx, and the
answers match the document (status codes, content types, response schemas).

Bounded: a few examples per operation, about a minute in all. Left out: the live stream
(it never ends), changing the OCPP connection (generated URLs would send the OCPP service
to hosts off this machine) and revoking API tokens (it would revoke the one in use); their
own tests are in test_api.py. This stack runs with ``web.tls = false``: plain HTTP works too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.conftest import CONFIG, WebStack, start_web_stack

pytestmark = pytest.mark.integration

EXCLUDED = {("GET", "/events"), ("PATCH", "/settings/ocpp"), ("DELETE", "/api-tokens/{id}")}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def plain_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    running = start_web_stack(tmp_path_factory.mktemp("fuzz"), CONFIG + "tls = false\n")
    yield running
    assert running.sim.stop() == 0


@pytest.fixture(scope="module")
def bearer(plain_stack: WebStack) -> dict[str, str]:
    created = plain_stack.logged_in().post("/api-tokens", {"name": "fuzz"})
    return {"Authorization": f"Bearer {created.json()['token']}"}


def test_plain_http_cookie_is_not_secure(plain_stack: WebStack) -> None:
    """(Before the fuzzing, whose wrong PINs get 127.0.0.1 rate limited.)"""
    answer = plain_stack.client().post("/login", {"pin": plain_stack.pin})
    assert answer.status_code == 200
    assert "Secure" not in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]
    assert not Path(plain_stack.certificate).exists()  # no certificate made when TLS is off


def test_no_server_errors_and_answers_as_documented(plain_stack: WebStack, bearer: dict[str, str]) -> None:
    """Each operation with generated cases (schemathesis' strategies driven by Hypothesis here:
    its pytest plugin does not load with this pytest); every failure is reported at the end."""
    schema = schemathesis.openapi.from_url(plain_stack.url + "/api/v1/openapi.yaml")
    failures: list[str] = []
    sent: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def run(case: schemathesis.Case) -> None:
            sent.append(case.call_and_validate(headers=bearer, checks=CHECKS, timeout=20).status_code)

        try:
            run()
        except Exception as exc:  # collected, all reported below
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations >= 24 and len(sent) >= 5 * operations
    assert sum(1 for status in sent if status < 300) >= operations  # not only refusals
    assert not failures, "\n\n".join(failures)
