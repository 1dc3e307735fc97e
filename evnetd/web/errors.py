"""Every refusal looks the same: ``{"error", "field", "rule"}`` with its HTTP status.

No input can make a 500: bad input is a 400 naming the field and the rule, and the D-Bus
errors of the services map to 400 (InvalidArgument), 409 (valid, but not now) and 503
(the service is not there, or is a version without that method).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from dbus_fast import DBusError

from evnetd.bus.errors import HardwareFault, InvalidArgument, InvalidState, NotAvailable
from evnetd.web.validation import InputError

log = logging.getLogger("evnet.web")

_ABSENT = {f"org.freedesktop.DBus.Error.{name}" for name in (
    "ServiceUnknown", "NameHasNoOwner", "UnknownMethod", "UnknownObject", "UnknownInterface", "UnknownProperty",
    "NoReply", "Disconnected", "Timeout",
)}  # fmt: skip
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")


class ApiError(Exception):
    """A refusal with its HTTP status; ``field``/``rule`` for a 400."""

    def __init__(self, status: int, message: str, field: str | None = None, rule: str | None = None,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.field, self.rule = status, message, field, rule
        self.headers = headers or {}


def error_response(error: ApiError) -> web.Response:
    body = {"error": error.message, "field": error.field, "rule": error.rule}
    return web.json_response(body, status=error.status, headers=error.headers)


def from_bus(exc: DBusError) -> ApiError:
    text = exc.text or exc.type
    if isinstance(exc, InvalidArgument):
        # the services' messages read "<field>: <value!r>: <rule>"
        head = text.split(": ", 1)[0]
        return ApiError(400, text, head if _FIELD.match(head) else None, text.rsplit(": ", 1)[-1])
    if isinstance(exc, NotAvailable) or exc.type in _ABSENT:
        return ApiError(503, text)
    if isinstance(exc, InvalidState | HardwareFault):
        return ApiError(409, text)
    log.warning("unexpected D-Bus error %s: %s", exc.type, text)
    return ApiError(502, text)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except InputError as exc:
        return error_response(ApiError(400, str(exc), exc.field, exc.rule))
    except DBusError as exc:
        return error_response(from_bus(exc))
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        kept = {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}  # 405 says what is
        return error_response(ApiError(exc.status, exc.reason, headers=kept))
