"""The handlers of ``/api/v1`` (the shapes are fixed in ``openapi.yaml``).

Each checks its whole input first (``validation``), then makes its D-Bus calls; refusals
are raised and turned into answers by the middlewares in ``app.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from dbus_fast import DBusError

from evnetd.bus.client import unwrap
from evnetd.bus.names import CHARGER, ENERGY, METER, OCPP
from evnetd.web import bundle, journal, present, validation
from evnetd.web.auth import API, CALLER, COOKIE, Caller
from evnetd.web.context import CONTEXT, WebContext
from evnetd.web.credentials import ApiToken, pin_matches
from evnetd.web.errors import ApiError
from evnetd.web.events import KEEPALIVE_S

log = logging.getLogger("evnet.web")
OPENAPI = Path(__file__).parent / "openapi.yaml"
routes = web.RouteTableDef()


def _context(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def _no_content() -> web.Response:
    return web.Response(status=204)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


async def json_body(request: web.Request) -> Any:
    """The request's JSON body ({} when there is none)."""
    if not request.body_exists:
        return {}
    if request.content_type != "application/json":
        raise ApiError(415, "the body must be JSON (Content-Type: application/json)")
    text = await request.text()
    if not text.strip():
        return {}
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise validation.InputError("body", None, f"must be valid JSON ({exc})") from None


# --- login ------------------------------------------------------------------------------
@routes.post(f"{API}/login")
async def login(request: web.Request) -> web.Response:
    context = _context(request)
    client = request.remote or "unknown"
    now = time.monotonic()
    wait = context.limiter.retry_after(client, now)
    if wait > 0:
        raise ApiError(429, "too many wrong PINs: try again later", headers={"Retry-After": str(math.ceil(wait))})
    given = validation.pin(await json_body(request))
    if not pin_matches(given, context.pin):
        context.limiter.failed(client, now)
        log.warning("wrong PIN from %s", client)
        raise ApiError(401, "wrong PIN")
    context.limiter.succeeded(client)
    max_age = context.config.web.session_max_age_s
    session_id, session = context.credentials.open_session(time.time(), max_age)
    log.info("login from %s", client)
    response = web.json_response({"csrf_token": session.csrf_token})
    response.set_cookie(COOKIE, session_id, max_age=int(max_age), path="/", httponly=True, samesite="Strict",
                        secure=context.tls)  # fmt: skip
    return response


@routes.post(f"{API}/logout")
async def logout(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    if caller.session_id is not None:
        _context(request).credentials.close_session(caller.session_id)
    response = _no_content()
    response.del_cookie(COOKIE, path="/")
    return response


@routes.get(f"{API}/session")
async def session(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    if caller.token is not None:
        return web.json_response({"method": "token", "csrf_token": None, "expires_at": None,
                                  "token_name": caller.token.name})  # fmt: skip
    assert caller.login is not None
    return web.json_response({"method": "session", "csrf_token": caller.login.csrf_token,
                              "expires_at": caller.login.expires_at, "token_name": None})  # fmt: skip


@routes.get(f"{API}/openapi.yaml")
async def openapi(request: web.Request) -> web.FileResponse:
    return web.FileResponse(OPENAPI, headers={"Content-Type": "application/yaml"})


# --- status and live updates -------------------------------------------------------------
@routes.get(f"{API}/status")
async def status(request: web.Request) -> web.Response:
    return web.json_response(present.status(_context(request).peers.props))


@routes.get(f"{API}/events")
async def events(request: web.Request) -> web.StreamResponse:
    live = _context(request).live
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await response.prepare(request)
    subscription = live.subscribe()
    try:
        while not subscription.closed:
            data = await subscription.next(KEEPALIVE_S)
            if data is not None:
                await response.write(f"event: status\ndata: {data}\n\n".encode())
            elif not subscription.closed:
                await response.write(b": keep-alive\n\n")
    except ConnectionResetError:
        pass  # the client went away
    finally:
        live.unsubscribe(subscription)
    return response


# --- sessions -----------------------------------------------------------------------------
async def _sessions(request: web.Request) -> list[dict[str, Any]]:
    limit = validation.query_int(request.query, "limit", 1, 1000, 50)
    rows = unwrap(await _context(request).peers.call(CHARGER, "Sessions", "u", [limit]))
    return [present.session(row) for row in rows]


@routes.get(f"{API}/sessions")
async def sessions(request: web.Request) -> web.Response:
    return web.json_response({"sessions": await _sessions(request)})


@routes.get(f"{API}/sessions.csv")
async def sessions_csv(request: web.Request) -> web.Response:
    text = present.sessions_csv(await _sessions(request))
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="sessions.csv"'})  # fmt: skip


# --- settings -------------------------------------------------------------------------------
async def _settings(request: web.Request, endpoint: Any) -> dict[str, Any]:
    props = await _context(request).peers.properties(endpoint)
    settings: dict[str, Any] = present.json_safe(props.get("Settings") or {})
    if not settings:
        raise ApiError(503, f"{endpoint.bus_name} publishes no settings (an older version?)")
    return settings


@routes.get(f"{API}/settings/charger")
async def charger_settings(request: web.Request) -> web.Response:
    return web.json_response(await _settings(request, CHARGER))


@routes.patch(f"{API}/settings/charger")
async def change_charger_settings(request: web.Request) -> web.Response:
    changes = validation.charger_settings(await json_body(request))
    await _context(request).peers.call(CHARGER, "ChangeSettings", "a{sv}", [changes])
    return web.json_response(await _settings(request, CHARGER))


@routes.get(f"{API}/settings/energy")
async def energy_settings(request: web.Request) -> web.Response:
    return web.json_response(await _settings(request, ENERGY))


@routes.patch(f"{API}/settings/energy")
async def change_energy_settings(request: web.Request) -> web.Response:
    from evnetd.energy.interface import settings_variants

    changes = validation.energy_settings(await json_body(request))
    await _context(request).peers.call(ENERGY, "ChangeSettings", "a{sv}", [settings_variants(changes)])
    return web.json_response(await _settings(request, ENERGY))


async def _ocpp_now(context: WebContext) -> tuple[validation.OcppConnection, dict[str, Any]]:
    props = await context.peers.properties(OCPP)
    keys = await context.peers.call(OCPP, "GetConfiguration", "as", [["SecurityProfile"]])
    profile = next((int(value) for name, _, value in keys if name == "SecurityProfile" and value.isdigit()), 0)
    # the OCPP service never discloses the key; it may say whether one is set (PasswordSet)
    password_set = props.get("PasswordSet")
    now = validation.OcppConnection(props.get("Url", ""), props.get("ChargePointId", ""), profile, password_set)
    return now, props


def _ocpp_view(now: validation.OcppConnection, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": now.url, "charge_point_id": now.charge_point_id, "security_profile": now.security_profile,
        "password_set": now.password_set, "connected": bool(props.get("Connected")),
        "registration": props.get("Registration") or None, "last_error": props.get("LastError") or None,
    }  # fmt: skip


@routes.get(f"{API}/settings/ocpp")
async def ocpp_settings(request: web.Request) -> web.Response:
    return web.json_response(_ocpp_view(*await _ocpp_now(_context(request))))


@routes.patch(f"{API}/settings/ocpp")
async def change_ocpp_settings(request: web.Request) -> web.Response:
    """Password, then connection, then profile: the profile's prerequisites go first. A profile
    the OCPP service still refuses (a certificate missing) puts the connection back."""
    context = _context(request)
    body = await json_body(request)
    now, _ = await _ocpp_now(context)
    change = validation.ocpp_settings(body, now)
    peers = context.peers
    if change.password is not None:
        await _change_key(context, "AuthorizationKey", change.password, "password")
    connection_changed = change.url is not None or change.charge_point_id is not None
    if connection_changed:
        url = now.url if change.url is None else change.url
        charge_point_id = now.charge_point_id if change.charge_point_id is None else change.charge_point_id
        await peers.call(OCPP, "SetConnection", "ss", [url, charge_point_id])
    if change.security_profile is not None and change.security_profile != now.security_profile:
        try:
            await _change_key(context, "SecurityProfile", str(change.security_profile), "security_profile")
        except (ApiError, DBusError):
            if connection_changed:
                await peers.call(OCPP, "SetConnection", "ss", [now.url, now.charge_point_id])
            raise
    return web.json_response(_ocpp_view(*await _ocpp_now(context)))


async def _change_key(context: WebContext, key: str, value: str, field: str) -> None:
    verdict = await context.peers.call(OCPP, "ChangeConfiguration", "ss", [key, value])
    if verdict not in ("Accepted", "RebootRequired"):
        rule = f"refused by the OCPP service ({verdict})"
        if key == "SecurityProfile":
            rule += ": it needs its prerequisites (password, wss:// URL, certificates)"
        raise ApiError(400, f"{field}: {rule}", field, rule)


@routes.post(f"{API}/settings/ocpp/certificates")
async def install_certificate(request: web.Request) -> web.Response:
    kind, pem = validation.certificate(await json_body(request))
    verdict = await _context(request).peers.call(OCPP, "InstallCertificate", "ss", [kind, pem])
    return web.json_response({"status": verdict})


# --- RFID cards -------------------------------------------------------------------------------
@routes.get(f"{API}/rfid-tokens")
async def rfid_tokens(request: web.Request) -> web.Response:
    props = await _context(request).peers.properties(CHARGER)
    tokens = [{"uid": uid, "label": label} for uid, label in props.get("Tokens", [])]
    return web.json_response({"tokens": tokens, "learning": bool(props.get("Learning"))})


@routes.post(f"{API}/rfid-tokens")
async def add_rfid_token(request: web.Request) -> web.Response:
    uid, label = validation.rfid_token(await json_body(request))
    await _context(request).peers.call(CHARGER, "AddToken", "ss", [uid, label])
    return web.json_response({"uid": uid, "label": label}, status=201)


@routes.post(f"{API}/rfid-tokens/learn")
async def learn_rfid_token(request: web.Request) -> web.Response:
    timeout_s = validation.learn_timeout(await json_body(request))
    await _context(request).peers.call(CHARGER, "LearnToken", "d", [timeout_s])
    return web.json_response({"learning": True, "timeout_s": timeout_s}, status=202)


@routes.delete(API + "/rfid-tokens/{uid}")
async def remove_rfid_token(request: web.Request) -> web.Response:
    uid = validation.rfid_uid(request.match_info["uid"])
    peers = _context(request).peers
    known = {known_uid for known_uid, _ in (await peers.properties(CHARGER)).get("Tokens", [])}
    if uid not in known:
        raise ApiError(404, f"no card {uid}")
    await peers.call(CHARGER, "RemoveToken", "s", [uid])
    return _no_content()


# --- actions --------------------------------------------------------------------------------------
@routes.post(f"{API}/actions/start")
async def start(request: web.Request) -> web.Response:
    id_tag = validation.start_id_tag(await json_body(request))
    await _context(request).peers.call(CHARGER, "StartSession", "s", [id_tag])
    return _no_content()


async def _simple_action(request: web.Request, endpoint: Any, member: str) -> web.Response:
    validation.no_fields(await json_body(request))
    await _context(request).peers.call(endpoint, member)
    return _no_content()


@routes.post(f"{API}/actions/stop")
async def stop(request: web.Request) -> web.Response:
    return await _simple_action(request, CHARGER, "StopSession")


@routes.post(f"{API}/actions/unlock")
async def unlock(request: web.Request) -> web.Response:
    return await _simple_action(request, CHARGER, "Unlock")


@routes.post(f"{API}/actions/rcd-selftest")
async def rcd_selftest(request: web.Request) -> web.Response:
    return await _simple_action(request, METER, "SelfTestRcd")


@routes.post(f"{API}/actions/clear-faults")
async def clear_faults(request: web.Request) -> web.Response:
    """The meter's latched faults, then the charger's (a welded contactor)."""
    validation.no_fields(await json_body(request))
    peers = _context(request).peers
    cleared, refused = await peers.call(METER, "ClearFaults")
    await peers.call(CHARGER, "ClearFaults")
    return web.json_response({"cleared": cleared, "refused": refused})


# --- diagnostics ------------------------------------------------------------------------------------
async def _faults(context: WebContext, limit: int) -> dict[str, Any]:
    history = unwrap(await context.peers.call(CHARGER, "Faults", "u", [limit]))
    meter = context.peers.props.get("meter") or {}
    charger = context.peers.props.get("charger") or {}
    return {
        "active": list(meter.get("ActiveFaults", [])),
        "error_code": charger.get("ErrorCode") or None,
        "error_info": charger.get("ErrorInfo") or None,
        "history": [present.fault(row) for row in history],
    }


@routes.get(f"{API}/faults")
async def faults(request: web.Request) -> web.Response:
    limit = validation.query_int(request.query, "limit", 1, 1000, 50)
    return web.json_response(await _faults(_context(request), limit))


@routes.get(f"{API}/journal")
async def journal_tail(request: web.Request) -> web.Response:
    lines = validation.query_int(request.query, "lines", 1, 2000, 200)
    source, entries = await journal.tail(_context(request).state_dir, lines)
    return web.json_response({"source": source, "entries": entries})


async def _part(making: Any) -> Any:
    """One part of the bundle; a service that cannot answer leaves its reason instead."""
    try:
        return await making
    except (DBusError, ApiError) as exc:
        return {"unavailable": str(exc)}


@routes.get(f"{API}/diagnostics")
async def diagnostics(request: web.Request) -> web.Response:
    context = _context(request)
    config = context.config

    async def journal_text() -> str:
        source, entries = await journal.tail(context.state_dir, 500)
        return f"# {source}\n" + "".join(f"{e['time']} {e['unit']} {e['priority']} {e['message']}\n" for e in entries)

    async def all_sessions() -> list[dict[str, Any]]:
        rows = unwrap(await context.peers.call(CHARGER, "Sessions", "u", [200]))
        return [present.session(row) for row in rows]

    async def ocpp() -> dict[str, Any]:
        return _ocpp_view(*await _ocpp_now(context))

    async def settings(endpoint: Any) -> Any:
        return present.json_safe(bundle.redact((await context.peers.properties(endpoint)).get("Settings") or {}))

    charger, energy, ocpp_part, fault_part, session_part, log_part = await asyncio.gather(
        _part(settings(CHARGER)), _part(settings(ENERGY)), _part(ocpp()), _part(_faults(context, 200)),
        _part(all_sessions()), _part(journal_text()),
    )  # fmt: skip
    parts = {
        "status.json": present.status(context.peers.props),
        "settings.json": {"charger": charger, "energy": energy, "ocpp": ocpp_part},
        "config.json": bundle.redact(config.model_dump()),
        "faults.json": fault_part,
        "sessions.json": session_part,
        "journal.txt": log_part if isinstance(log_part, str) else json.dumps(log_part),
    }
    secrets = [context.pin, config.web.pin, config.ocpp.authorization_key]
    data = await asyncio.to_thread(bundle.build, parts, secrets)
    name = f"evnet-diagnostics-{config.general.charge_point_id}-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
    return web.Response(body=data, content_type="application/gzip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


# --- API tokens ---------------------------------------------------------------------------------------
def _token_view(token: ApiToken) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "created_at": token.created_at, "last_used_at": token.last_used_at}


@routes.get(f"{API}/api-tokens")
async def api_tokens(request: web.Request) -> web.Response:
    tokens = _context(request).credentials.tokens()
    return web.json_response({"tokens": [_token_view(token) for token in tokens]})


@routes.post(f"{API}/api-tokens")
async def create_api_token(request: web.Request) -> web.Response:
    name = validation.token_name(await json_body(request))
    secret, token = _context(request).credentials.create_token(name, time.time())
    log.info("API token %d (%s) created", token.id, name)
    return web.json_response({**_token_view(token), "token": secret}, status=201)


@routes.delete(API + "/api-tokens/{id}")
async def delete_api_token(request: web.Request) -> web.Response:
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 18:
        raise validation.InputError("id", text, "must be a token id (a whole number)")
    if not _context(request).credentials.revoke_token(int(text)):
        raise ApiError(404, f"no API token {text}")
    return _no_content()
