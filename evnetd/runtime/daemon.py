"""The life cycle every service shares: start, READY, watchdog pings, clean stop on SIGTERM.

A service is any object with ``start()``, ``stop()`` and ``healthy()``. The watchdog ping
is sent only while ``healthy()`` is true, so a service whose own loop has stalled (the
meter's sample loop, say) is restarted by systemd even if the event loop still turns.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Protocol

from evnetd.runtime.notify import notify, watchdog_interval

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def healthy(self) -> bool: ...

    def status_line(self) -> str: ...


async def _watchdog(service: Service, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        if service.healthy():
            notify("WATCHDOG=1")
        notify(f"STATUS={service.status_line()}")


async def run(service: Service) -> None:
    """Run ``service`` until SIGTERM or SIGINT, then stop it and return."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await service.start()
    notify("READY=1")
    notify(f"STATUS={service.status_line()}")
    log.info("%s ready", service.name)
    interval = watchdog_interval()
    pinger = asyncio.create_task(_watchdog(service, interval or 5.0))
    try:
        await stopping.wait()
    finally:
        notify("STOPPING=1")
        pinger.cancel()
        log.info("%s stopping", service.name)
        await service.stop()
