"""The aiohttp application: the API's routes, the pages, and the headers every answer has."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from evnetd.web import api
from evnetd.web.auth import guard
from evnetd.web.context import CONTEXT, WebContext
from evnetd.web.errors import errors

STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = "evnet-web"  # not the versions of Python and aiohttp
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")


async def _static(request: web.Request) -> web.StreamResponse:
    """The web client's files (``static/``); ``/`` is its index.html."""
    tail = request.match_info.get("tail", "") or "index.html"
    root = STATIC_DIR.resolve()
    path = (root / tail).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


def create_app(context: WebContext) -> web.Application:
    app = web.Application(middlewares=[errors, guard], client_max_size=256 * 1024)
    app[CONTEXT] = context
    app.on_response_prepare.append(_headers)
    app.router.add_routes(api.routes)
    app.router.add_get("/{tail:(?!api/).*}", _static)
    return app
