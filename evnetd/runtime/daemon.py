"""The life cycle every service shares: start, READY, watchdog pings, clean stop on SIGTERM.

A service is any object with ``start()``, ``stop()`` and ``healthy()``. The watchdog ping
is sent only while ``healthy()`` is true, so a service whose own loop has stalled (the
meter's sample loop, say) is restarted by systemd even if the event loop still turns.
"""

from __future__ import annotations

import asyncio
import contextlib
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


EX_SOFTWARE = 70
_failed: asyncio.Future[object] | None = None


class ServiceFailed(Exception):
    """A task of the service died; the daemon stops (safe outputs) and exits non-zero."""


EX_TEMPFAIL = 75


class RestartRequested(ServiceFailed):
    """The service asked to be restarted (an OCPP soft reset): it stops cleanly and exits
    with EX_TEMPFAIL, and its supervisor (systemd's Restart=on-failure, or `evnetd sim`)
    starts it again."""


def request_restart() -> None:
    """Stop the running service cleanly and exit so that it is restarted."""
    if _failed is not None and not _failed.done():
        _failed.set_result(RestartRequested())


def essential(task: asyncio.Task[None]) -> asyncio.Task[None]:
    """Mark a long-running task of the service: if it ends with an exception, the daemon
    stops cleanly and exits with EX_SOFTWARE, so systemd restarts it, instead of running on
    without the loop that mattered."""

    def done(finished: asyncio.Task[None]) -> None:
        if finished.cancelled() or finished.exception() is None:
            return
        log.critical("task %s failed", finished.get_name(), exc_info=finished.exception())
        if _failed is not None and not _failed.done():
            _failed.set_result(finished.exception() or ServiceFailed())

    task.add_done_callback(done)
    return task


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Until ``event`` is set (True) or ``timeout`` passed (False).

    Service loops wait this way between steps. Not ``asyncio.wait_for``: on Python 3.11 it
    can swallow a cancellation that arrives just as the event is set, and the loop would
    then never end when the service stops (CPython gh-86296).
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
            return True
    return False


async def cancel_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the service's tasks and wait until each has finished unwinding."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run(service: Service) -> None:
    """Run ``service`` until SIGTERM or SIGINT, then stop it and return.

    Raises ServiceFailed when an essential task died (after stopping the service).
    """
    global _failed
    loop = asyncio.get_running_loop()
    _failed = loop.create_future()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await service.start()
    notify("READY=1")
    notify(f"STATUS={service.status_line()}")
    log.info("%s ready", service.name)
    interval = watchdog_interval()
    pinger = asyncio.create_task(_watchdog(service, interval or 5.0))
    waiter: asyncio.Future[object] = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({waiter, _failed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        notify("STOPPING=1")
        pinger.cancel()
        log.info("%s stopping", service.name)
        await service.stop()
    if _failed.done():
        if isinstance(_failed.result(), RestartRequested):
            raise RestartRequested(f"{service.name}: restart requested")
        raise ServiceFailed(f"{service.name}: {_failed.result()!r}")
