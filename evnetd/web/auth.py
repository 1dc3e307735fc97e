"""Who may call the API: a login session (cookie, plus the CSRF token on every change) or
an API token (``Authorization: Bearer``, no CSRF token: it is not sent by a browser on its
own, so a forged cross-site request cannot carry it).

The pages and the OpenAPI document are public; so is the login, which is rate limited.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from aiohttp import web

from evnetd.web.context import CONTEXT, WebContext
from evnetd.web.credentials import ApiToken, Login
from evnetd.web.errors import ApiError, Handler

API = "/api/v1"
COOKIE = "evnet_session"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC = frozenset({("POST", f"{API}/login"), ("GET", f"{API}/openapi.yaml")})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Caller:
    """A login session (``session_id``, ``login``) or an API token."""

    session_id: str | None = None
    login: Login | None = None
    token: ApiToken | None = None


CALLER = "evnet.caller"


def authenticate(request: web.Request, context: WebContext) -> Caller:
    now = time.time()
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        token = context.credentials.token(secret.strip(), now) if scheme.lower() == "bearer" else None
        if token is None:
            raise ApiError(401, "unknown API token (Authorization: Bearer <token>)")
        return Caller(token=token)
    session_id = request.cookies.get(COOKIE)
    login = context.credentials.session(session_id, now) if session_id else None
    if session_id is None or login is None:
        raise ApiError(401, "not logged in" if session_id is None else "the session has ended: log in again")
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(given.encode(), login.csrf_token.encode()):
            raise ApiError(403, f"missing or wrong {CSRF_HEADER} header (from POST {API}/login or GET {API}/session)")
    return Caller(session_id=session_id, login=login)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/") and (request.method, request.path) not in PUBLIC:
        request[CALLER] = authenticate(request, request.app[CONTEXT])
    return await handler(request)
