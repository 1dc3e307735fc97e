"""Typed client helpers: call a method, read all properties, follow their changes.

Raw messages instead of introspected proxies: no introspection round trip per client
(evnetctl is a short-lived process) and the same code works for every service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from evnetd.bus.errors import NotAvailable, from_reply
from evnetd.bus.names import PROPERTIES, Endpoint

_DBUS = Endpoint("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
_ABSENT = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
)


def unwrap(value: Any) -> Any:
    """Variants (also nested in dicts and lists) to plain Python values."""
    if isinstance(value, Variant):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


async def call(
    bus: MessageBus,
    endpoint: Endpoint,
    member: str,
    signature: str = "",
    body: list[Any] | None = None,
    interface: str | None = None,
    timeout_s: float = 5.0,
) -> Any:
    """Call ``member`` and return its single result (or a tuple for several, None for none)."""
    reply = await bus.call(
        Message(
            destination=endpoint.bus_name,
            path=endpoint.path,
            interface=interface or endpoint.interface,
            member=member,
            signature=signature,
            body=body or [],
        )
    )
    assert reply is not None
    if reply.message_type == MessageType.ERROR:
        text = reply.body[0] if reply.body else ""
        if reply.error_name in _ABSENT:
            raise NotAvailable(f"{endpoint.bus_name} is not running")
        raise from_reply(reply.error_name or "", text)
    if not reply.body:
        return None
    return reply.body[0] if len(reply.body) == 1 else tuple(reply.body)


async def get_all(bus: MessageBus, endpoint: Endpoint) -> dict[str, Any]:
    """Every property of the endpoint's interface as plain values."""
    result = await call(bus, endpoint, "GetAll", "s", [endpoint.interface], interface=PROPERTIES)
    values: dict[str, Any] = unwrap(result)
    return values


async def follow_properties(
    bus: MessageBus, endpoint: Endpoint, on_change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Call ``on_change`` with each PropertiesChanged of the endpoint; return the current values.

    Subscribes before reading, so no change between the two is lost.
    """
    rule = (
        f"type='signal',sender='{endpoint.bus_name}',path='{endpoint.path}',"
        f"interface='{PROPERTIES}',member='PropertiesChanged'"
    )

    def handler(msg: Message) -> None:
        if (
            msg.message_type == MessageType.SIGNAL
            and msg.member == "PropertiesChanged"
            and msg.path == endpoint.path
            and msg.body
            and msg.body[0] == endpoint.interface
        ):
            on_change(unwrap(msg.body[1]))

    bus.add_message_handler(handler)
    await call(bus, _DBUS, "AddMatch", "s", [rule])
    return await get_all(bus, endpoint)


async def watch_service(
    bus: MessageBus, endpoint: Endpoint, on_update: Callable[[dict[str, Any] | None], None]
) -> None:
    """Follow another service that may come and go.

    ``on_update`` gets all its properties when it appears (or is already there), each
    PropertiesChanged as it comes, and None when it leaves the bus. Never waits for it:
    a daemon must run whether its peers do or not.
    """

    async def appeared() -> None:
        try:
            on_update(await get_all(bus, endpoint))
        except NotAvailable:
            on_update(None)

    def on_owner(msg: Message) -> None:
        if (
            msg.message_type == MessageType.SIGNAL
            and msg.member == "NameOwnerChanged"
            and msg.body
            and msg.body[0] == endpoint.bus_name
        ):
            if msg.body[2]:
                task = asyncio.ensure_future(appeared())
                _pending.add(task)
                task.add_done_callback(_pending.discard)
            else:
                on_update(None)

    bus.add_message_handler(on_owner)
    await call(
        bus,
        _DBUS,
        "AddMatch",
        "s",
        [f"type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{endpoint.bus_name}'"],
    )
    try:
        current = await follow_properties(bus, endpoint, on_update)
    except NotAvailable:
        on_update(None)
    else:
        on_update(current)


_pending: set[asyncio.Future[None]] = set()
