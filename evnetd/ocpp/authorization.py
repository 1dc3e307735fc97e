"""Authorising an id tag for the charger: local list, cache, the CSMS, then the offline rules.

The decision table is the pure ``decide_locally`` (authstore.py); this adds the one step
with I/O, Authorize.req, and what a failed request means: if the CSMS does not answer
(link down, timeout, CALLERROR) the tag is judged as if offline, so a card never waits
longer than the message timeout.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from websockets import ConnectionClosed

from evnetd.ocpp.authstore import IdTagInfo, LocalDecision, Verdict, decide_locally, normalize_tag
from evnetd.ocpp.chargepoint import LinkLost
from evnetd.ocpp.timestamps import utc_now

if TYPE_CHECKING:
    from evnetd.ocpp.service import OcppService

log = logging.getLogger("evnet.ocpp")
REJECTED = IdTagInfo("Invalid")


def _local(app: OcppService, id_tag: str, online: bool) -> LocalDecision:
    k = app.keys
    return decide_locally(
        id_tag,
        app.auth,
        online=online,
        list_enabled=k.flag("LocalAuthListEnabled"),
        cache_enabled=k.flag("AuthorizationCacheEnabled"),
        local_pre_authorize=k.flag("LocalPreAuthorize"),
        local_authorize_offline=k.flag("LocalAuthorizeOffline"),
        allow_offline_unknown=k.flag("AllowOfflineTxForUnknownId"),
        now=utc_now(),
    )


def _verdict(decision: LocalDecision) -> IdTagInfo:
    if decision.verdict is Verdict.ACCEPTED:
        return decision.info or IdTagInfo("Accepted")
    return decision.info if decision.info is not None and decision.info.status != "Accepted" else REJECTED


async def authorize(app: OcppService, id_tag: str) -> IdTagInfo:
    tag = normalize_tag(id_tag)
    cp = app.cp
    decision = _local(app, tag, online=cp is not None and app.online)
    if decision.verdict is not Verdict.ASK:
        log.info("id tag %s %s locally (%s)", tag, decision.verdict.value, decision.source or "offline rules")
        return _verdict(decision)
    assert cp is not None
    try:
        result = await cp.call_while_open(call.Authorize(id_tag=tag))
    except (OCPPError, TimeoutError, ConnectionClosed, LinkLost) as exc:
        log.warning("Authorize for %s failed (%s): offline rules apply", tag, exc)
        return _verdict(_local(app, tag, online=False))
    info = IdTagInfo.from_ocpp(result.id_tag_info or {})
    app.remember(tag, info)
    listed = app.auth.listed(tag) if app.keys.flag("LocalAuthListEnabled") else None
    if listed is not None and listed.status != info.status:
        app.local_list_conflict(tag)
    effective = info.effective(utc_now())
    log.info("id tag %s: %s by the CSMS", tag, effective.status)
    return effective
