"""Base class for our D-Bus interfaces: read-only properties held in one dict.

Every service publishes state the same way: it computes its current values, calls
``publish(...)``, and only the properties that really changed go out in one
PropertiesChanged signal. The properties themselves are declared as a table
(name → D-Bus signature) instead of one getter method each.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method, signal


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
        changed = {k: v for k, v in values.items() if not _same(self.values.get(k), v)}
        if changed:
            self.values.update(changed)
            self.emit_properties_changed(changed)
        return changed



def _same(old: Any, new: Any) -> bool:
    """Equal, counting NaN (our "unknown") as equal to NaN: an unknown that stays unknown
    is no change, and must not be re-broadcast with every update."""
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    return bool(old == new)


F = TypeVar("F", bound=Callable[..., Any])


def bus_method(*arguments: str, returns: str = "") -> Callable[[F], F]:
    """Export a method with these D-Bus signatures (one per argument, and the result).

    dbus-fast reads signatures from annotations; older releases (Debian trixie ships 2.x)
    know only signature strings, newer ones also ``Annotated`` types. Setting the strings
    here keeps the Python annotations free for type checkers and works with both.
    """

    def export(fn: F) -> F:
        names = list(inspect.signature(fn).parameters)[1:]
        if len(names) != len(arguments):
            raise TypeError(f"{fn.__name__}: {len(names)} arguments, {len(arguments)} signatures")
        fn.__annotations__ = {**dict(zip(names, arguments, strict=True)), "return": returns}
        return cast(F, method()(fn))

    return export


def bus_signal(signature: str) -> Callable[[F], F]:
    """Export a signal whose body has ``signature`` (the method returns the body)."""

    def export(fn: F) -> F:
        fn.__annotations__ = {"return": signature}
        return cast(F, signal()(fn))

    return export
