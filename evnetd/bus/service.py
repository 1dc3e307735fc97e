"""Base class for our D-Bus interfaces: read-only properties held in one dict.

Every service publishes state the same way: it computes its current values, calls
``publish(...)``, and only the properties that really changed go out in one
PropertiesChanged signal. The properties themselves are declared as a table
(name → D-Bus signature) instead of one getter method each.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from dbus_fast.annotations import DBusSignature
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property


def _read_only(name: str, signature: str) -> Any:
    def getter(self: PublishedInterface) -> Any:
        return self.values[name]

    getter.__name__ = name
    getter.__annotations__ = {"return": signature}
    return dbus_property(access=PropertyAccess.READ)(getter)


class PublishedInterface(ServiceInterface):
    """A ServiceInterface whose read-only properties come from ``PROPERTIES``."""

    PROPERTIES: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, signature in cls.PROPERTIES.items():
            setattr(cls, name, _read_only(name, signature))

    def __init__(self, interface: str, initial: dict[str, Any]) -> None:
        missing = set(self.PROPERTIES) - set(initial)
        if missing:
            raise ValueError(f"no initial value for {sorted(missing)}")
        self.values: dict[str, Any] = dict(initial)
        super().__init__(interface)

    def publish(self, values: dict[str, Any]) -> dict[str, Any]:
        """Store ``values``; emit and return the ones that changed."""
        changed = {k: v for k, v in values.items() if self.values.get(k) != v}
        if changed:
            self.values.update(changed)
            self.emit_properties_changed(changed)
        return changed


# The return annotation of a D-Bus method without results (dbus-fast reads ``None`` as no
# annotation at all, which it rejects).
NoResult = Annotated[None, DBusSignature("")]
