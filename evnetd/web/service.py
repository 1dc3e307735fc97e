"""The web daemon (evnet-web): the pages and the app API over HTTPS, the charger over D-Bus.

It starts whether the other services run or not (their fields are null and their
endpoints answer 503 until they come), and it keeps nothing of the charger's state.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from evnetd.runtime.config import Config
from evnetd.web import present
from evnetd.web.app import create_app
from evnetd.web.context import WebContext
from evnetd.web.credentials import Credentials, device_pin
from evnetd.web.events import LiveUpdates
from evnetd.web.peers import Peers
from evnetd.web.tls import server_context

log = logging.getLogger("evnet.web")
SHUTDOWN_S = 2.0  # requests still running at stop get this long


def _url(tls: bool, host: str, port: int) -> str:
    shown = host if host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    shown = f"[{shown}]" if ":" in shown else shown
    return f"{'https' if tls else 'http'}://{shown}:{port}"


class WebService:
    name = "evnet-web"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.live = LiveUpdates(self._snapshot)
        self.peers = Peers(self.live.changed)
        self.credentials: Credentials | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None

    def _snapshot(self) -> dict[str, Any]:
        return present.status(self.peers.props)

    async def start(self) -> None:
        settings = self.config.web
        web_dir = self.config.general.state_dir / "web"
        pin = device_pin(web_dir, settings.pin)
        ssl_context = None
        if settings.tls:
            ssl_context = server_context(web_dir, self.config.general.charge_point_id, settings.host)
        self.credentials = Credentials(web_dir / "web.db")
        await self.peers.start(self.config.general.bus_address)
        context = WebContext(self.config, pin, settings.tls, self.peers, self.credentials, self.live)
        self._runner = web.AppRunner(create_app(context), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host or None, settings.port, ssl_context=ssl_context,
                           shutdown_timeout=SHUTDOWN_S)  # fmt: skip
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = _url(settings.tls, settings.host, port)
        (web_dir / "url").write_text(self.url + "\n")
        log.info("serving %s", self.url)

    async def stop(self) -> None:
        self.live.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.peers.stop()
        if self.credentials is not None:
            self.credentials.close()

    def healthy(self) -> bool:
        return True  # the watchdog pings come from the event loop that serves the requests

    def status_line(self) -> str:
        return f"serving {self.url or '(starting)'}"
