"""The live stream (Server-Sent Events): the status object again after every change.

Each subscriber gets the whole status, not a diff: a browser that missed an event (a
phone waking up) is right again with the next one, and the client needs no merge logic.
The ``Coalescer`` limits the stream to 5 events a second for all subscribers together;
a subscriber that falls behind only ever holds the newest status (a queue of one).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from evnetd.web.coalesce import Coalescer

INTERVAL_S = 0.2  # at most 5 updates a second
SETTLE_S = 0.02  # the signals of one control step (5 ms) leave together
KEEPALIVE_S = 15.0


class Subscription:
    def __init__(self) -> None:
        self._latest: str | None = None
        self._ready = asyncio.Event()
        self.closed = False

    def close(self) -> None:
        """The service is stopping: the stream ends (else the server would wait for it)."""
        self.closed = True
        self._ready.set()

    def offer(self, data: str) -> None:
        self._latest = data
        self._ready.set()

    async def next(self, timeout: float) -> str | None:
        """The newest status (JSON) not yet taken, or None after ``timeout`` (time for a keep-alive)."""
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            return None
        self._ready.clear()
        data, self._latest = self._latest, None
        return data  # None as well when closed


class LiveUpdates:
    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot
        self._coalescer = Coalescer(INTERVAL_S, SETTLE_S)
        self._subscribers: set[Subscription] = set()
        self._timer: asyncio.TimerHandle | None = None

    def subscribe(self) -> Subscription:
        subscription = Subscription()
        subscription.offer(json.dumps(self._snapshot()))
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def changed(self) -> None:
        """A property of a watched service changed (called from the bus handler)."""
        if not self._subscribers:
            return
        delay = self._coalescer.changed(time.monotonic())
        if delay is not None:
            self._timer = asyncio.get_running_loop().call_later(delay, self._send)

    def _send(self) -> None:
        self._coalescer.sent(time.monotonic())
        data = json.dumps(self._snapshot())
        for subscription in self._subscribers:
            subscription.offer(data)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for subscription in self._subscribers:
            subscription.close()
