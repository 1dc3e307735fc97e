"""One daemon's connection to the plant: a local mirror of its properties, fire-and-forget writes.

Reads never wait on the bus (the mirror is kept current by PropertiesChanged), and
writes are queued without awaiting a reply, so the sim backends behave like registers:
instant and ordered (D-Bus keeps the order of one connection's messages).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dbus_fast import Message, MessageFlag
from dbus_fast.aio import MessageBus

from evnetd.bus.client import follow_properties
from evnetd.bus.errors import NotAvailable
from evnetd.bus.names import PLANT
from evnetd.hal.errors import DeviceNotFoundError

log = logging.getLogger(__name__)
Listener = Callable[[dict[str, Any]], None]


class PlantLink:
    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.values: dict[str, Any] = {}
        self._listeners: list[Listener] = []

    async def open(self) -> PlantLink:
        try:
            self.values = await follow_properties(self.bus, PLANT, self._changed)
        except NotAvailable as exc:
            raise DeviceNotFoundError(f"no plant simulator on the bus ({exc})") from exc
        return self

    def _changed(self, changed: dict[str, Any]) -> None:
        self.values.update(changed)
        for listener in self._listeners:
            listener(changed)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def send(self, member: str, signature: str, body: list[Any]) -> None:
        """Queue a plant method call; no reply is awaited."""
        self.bus.send(
            Message(
                destination=PLANT.bus_name,
                path=PLANT.path,
                interface=PLANT.interface,
                member=member,
                signature=signature,
                body=body,
                flags=MessageFlag.NO_REPLY_EXPECTED,
            )
        )
