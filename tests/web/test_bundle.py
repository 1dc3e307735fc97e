"""The diagnostics bundle holds its parts and no secret."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest

from evnetd.web.bundle import REMOVED, build, redact


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"web": {"pin": "123456", "port": 443}}, {"web": {"pin": REMOVED, "port": 443}}),
        ({"ocpp": {"authorization_key": "0123456789abcdef", "url": "ws://x"}},
         {"ocpp": {"authorization_key": REMOVED, "url": "ws://x"}}),
        ({"keys": {"AuthorizationKey": "k" * 16, "WebSocketPingInterval": "30"}},
         {"keys": {"AuthorizationKey": REMOVED, "WebSocketPingInterval": "30"}}),  # "Ping" is no PIN
        ({"charger": {"local_tokens": ["04A1B2C3"], "max_current_a": 32}},
         {"charger": {"local_tokens": REMOVED, "max_current_a": 32}}),
        ({"web": {"pin": ""}}, {"web": {"pin": ""}}),  # nothing set: nothing to hide, and it shows so
        ({"password": None, "list": [{"secret": "s"}]}, {"password": None, "list": [{"secret": REMOVED}]}),
    ],
)  # fmt: skip
def test_redact(value: dict[str, Any], expected: dict[str, Any]) -> None:
    assert redact(value) == expected


def test_build_writes_each_part_and_blanks_known_secrets() -> None:
    data = build({"status.json": {"pin_hint": "never 482913"}, "journal.txt": "login with 482913 ok\n"},
                 ["482913", ""], now=1700000000.0)  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        names = archive.getnames()
        files = {name: archive.extractfile(name).read().decode() for name in names}  # type: ignore[union-attr]
    assert names == ["evnet-diagnostics/status.json", "evnet-diagnostics/journal.txt"]
    assert json.loads(files["evnet-diagnostics/status.json"]) == {"pin_hint": f"never {REMOVED}"}
    assert files["evnet-diagnostics/journal.txt"] == f"login with {REMOVED} ok\n"
    assert b"482913" not in data
