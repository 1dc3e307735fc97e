"""What every request handler may use: one per running web service."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from evnetd.runtime.config import Config
from evnetd.web.credentials import Credentials
from evnetd.web.events import LiveUpdates
from evnetd.web.peers import Peers
from evnetd.web.ratelimit import LoginLimiter


@dataclass
class WebContext:
    config: Config
    pin: str
    tls: bool
    peers: Peers
    credentials: Credentials
    live: LiveUpdates
    limiter: LoginLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = LoginLimiter(self.config.web.login_attempts, self.config.web.login_window_s)

    @property
    def state_dir(self) -> Path:
        return self.config.general.state_dir


CONTEXT = web.AppKey("context", WebContext)
