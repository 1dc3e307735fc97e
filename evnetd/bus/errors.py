"""Namespaced D-Bus errors: ``org.evnet.Error.<Name>``.

A service raises one of these from a method; dbus-fast turns it into an error reply with
that name, and the client helpers turn the reply back into the same class, so a script
can catch ``InvalidArgument`` without parsing text.
"""

from __future__ import annotations

from dbus_fast import DBusError

PREFIX = "org.evnet.Error."


class EvnetBusError(DBusError):
    """Base of our errors; subclasses fix the error name."""

    short_name = "Failed"

    def __init__(self, text: str) -> None:
        super().__init__(PREFIX + self.short_name, text)


class InvalidArgument(EvnetBusError):
    """An argument is out of range or unknown; nothing was changed."""

    short_name = "InvalidArgument"


class InvalidState(EvnetBusError):
    """The request is valid but not now (e.g. clear faults while the cause is present)."""

    short_name = "InvalidState"


class HardwareFault(EvnetBusError):
    """The hardware refused or failed the operation."""

    short_name = "HardwareFault"


class NotAvailable(EvnetBusError):
    """The service or feature that would answer is not running."""

    short_name = "NotAvailable"


ERRORS: dict[str, type[EvnetBusError]] = {
    cls.short_name: cls for cls in (InvalidArgument, InvalidState, HardwareFault, NotAvailable)
}


def from_reply(name: str, text: str) -> Exception:
    """The exception for an error reply named ``name``."""
    if name.startswith(PREFIX) and name[len(PREFIX) :] in ERRORS:
        return ERRORS[name[len(PREFIX) :]](text)
    return DBusError(name, text)
