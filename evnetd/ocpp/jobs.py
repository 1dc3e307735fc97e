"""One background procedure at a time (a firmware update, an upload) and its last status.

The CSMS may ask for the status of such a procedure at any time (TriggerMessage) and a
new request replaces the running one, so both the firmware updater and the log uploader
keep the same small record: the task, the last status it reported, Idle once it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

IDLE = "Idle"
Report = Callable[[str], Awaitable[None]]


class BackgroundJob:
    def __init__(self, name: str) -> None:
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._status = IDLE

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def status(self) -> str:
        """The last status reported, or Idle when nothing runs."""
        return self._status if self.running else IDLE

    def tracked(self, report: Report) -> Report:
        """``report`` that also remembers each status."""

        async def tracked(status: str) -> None:
            self._status = str(status)
            await report(str(status))

        return tracked

    def launch(self, work: Coroutine[Any, Any, None]) -> None:
        self._status = IDLE
        self._task = asyncio.create_task(work, name=self._name)
        self._task.add_done_callback(self._log_crash)

    async def cancel(self) -> bool:
        """Stop the running procedure, if any (True); nothing more is reported for it."""
        task = self._task
        if task is None or task.done():
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True

    async def wait(self) -> None:
        """Until the running procedure, if any, has ended."""
        if self._task is not None:
            await asyncio.wait([self._task])

    def _log_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed unexpectedly", self._name, exc_info=task.exception())
