"""The whole stack on the simulated board with the web service (`evnetd sim --web`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.sim import Sim
from tests.web.client import WebClient

CONFIG = """
[charger]
auth_mode = "free"
[web]
login_attempts = 3
"""


@dataclass
class WebStack:
    sim: Sim
    url: str
    pin: str
    certificate: Path

    def client(self) -> WebClient:
        return WebClient(self.url, self.certificate)

    def logged_in(self) -> WebClient:
        client = self.client()
        assert client.login(self.pin).status_code == 200
        return client


def start_web_stack(directory: Path, config: str = CONFIG) -> WebStack:
    """`evnetd sim --web 127.0.0.1:0`: it prints WEB=, WEB_PIN= and then READY."""
    (directory / "evnet.toml").write_text(config)
    sim = Sim(directory / "state", "--config", str(directory / "evnet.toml"), "--web", "127.0.0.1:0")
    assert sim.process.stdout is not None
    lines = [sim.ready_line, sim.process.stdout.readline().strip(), sim.process.stdout.readline().strip()]
    assert lines[0].startswith("WEB=") and lines[1].startswith("WEB_PIN=") and lines[2] == "READY", (
        f"{lines}\n{sim.log()}"
    )
    return WebStack(sim, lines[0][4:], lines[1][8:], directory / "state" / "web" / "certificate.pem")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    running = start_web_stack(tmp_path_factory.mktemp("web"))
    yield running
    assert running.sim.stop() == 0


@pytest.fixture(scope="module")
def api(stack: WebStack) -> WebClient:
    """A client logged in with the PIN (cookie + CSRF token)."""
    return stack.logged_in()


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
