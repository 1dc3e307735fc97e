"""The other services as the web service sees them: a mirror of their properties, and calls.

The mirror is fed by PropertiesChanged (``watch_service``), so the status the dashboard
polls costs no bus round trip, and each change also wakes the live-update stream. It is
a copy, never a source: what the web service shows is what the services last said.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from dbus_fast.aio import MessageBus

from evnetd.bus.client import call, get_all, watch_service
from evnetd.bus.connection import connect
from evnetd.bus.errors import NotAvailable
from evnetd.bus.names import CHARGER, ENERGY, METER, OCPP, PLANT, Endpoint

CALL_TIMEOUT_S = 5.0
WATCHED: dict[str, Endpoint] = {"plant": PLANT, "meter": METER, "charger": CHARGER, "ocpp": OCPP, "energy": ENERGY}
LIVE = frozenset({"charger", "meter", "ocpp", "energy"})
"""The services whose changes are pushed to the live stream (the plant is the simulation's)."""


class Peers:
    def __init__(self, on_change: Callable[[], None]) -> None:
        self.props: dict[str, dict[str, Any] | None] = dict.fromkeys(WATCHED)
        self._on_change = on_change
        self.bus: MessageBus | None = None

    async def start(self, address: str) -> None:
        self.bus = await connect(address)
        for name, endpoint in WATCHED.items():
            await watch_service(self.bus, endpoint, self._updater(name))

    def stop(self) -> None:
        if self.bus is not None:
            self.bus.disconnect()

    def _updater(self, name: str) -> Callable[[dict[str, Any] | None], None]:
        def update(values: dict[str, Any] | None) -> None:
            if values is None:
                self.props[name] = None
            else:
                self.props[name] = {**(self.props[name] or {}), **values}
            if name in LIVE:
                self._on_change()

        return update

    async def call(self, endpoint: Endpoint, member: str, signature: str = "", body: list[Any] | None = None) -> Any:
        """``member``'s result; NotAvailable when the service is not there or does not answer in time."""
        assert self.bus is not None
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                return await call(self.bus, endpoint, member, signature, body)
        except TimeoutError:
            raise NotAvailable(f"{endpoint.bus_name} did not answer within {CALL_TIMEOUT_S:g} s") from None

    async def properties(self, endpoint: Endpoint) -> dict[str, Any]:
        """Every property, read now (not from the mirror): what a change just did."""
        assert self.bus is not None
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                return await get_all(self.bus, endpoint)
        except TimeoutError:
            raise NotAvailable(f"{endpoint.bus_name} did not answer within {CALL_TIMEOUT_S:g} s") from None
