"""Typed client helpers: call a method, read all properties, follow their changes.

Raw messages instead of introspected proxies: no introspection round trip per client
(evnetctl is a short-lived process) and the same code works for every service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from evnetd.bus.errors import NotAvailable, from_reply
from evnetd.bus.names import PROPERTIES, Endpoint

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
    await call(
        bus,
        Endpoint("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus"),
        "AddMatch",
        "s",
        [rule],
    )
    return await get_all(bus, endpoint)
