"""Connecting to the system bus or to a private bus given by address."""

from __future__ import annotations

import os

from dbus_fast import BusType
from dbus_fast.aio import MessageBus

from evnetd.hal.errors import DeviceNotFoundError

BUS_ENV = "EVNET_BUS"


def resolve_address(address: str | None) -> str | None:
    """An explicit address, else $EVNET_BUS, else None (= the system bus)."""
    return address or os.environ.get(BUS_ENV) or None


async def connect(address: str | None = None) -> MessageBus:
    """Connect to ``address`` (resolved as above)."""
    resolved = resolve_address(address)
    try:
        if resolved:
            return await MessageBus(bus_address=resolved).connect()
        return await MessageBus(bus_type=BusType.SYSTEM).connect()
    except (OSError, ValueError) as exc:
        where = resolved or "the system bus"
        raise DeviceNotFoundError(f"cannot connect to {where}: {exc}") from exc
