"""The OCPP daemon (evnet-ocpp): the charger's link to a CSMS over OCPP 1.6J.

It owns no hardware and never decides whether current flows: the charger does, and it
charges with or without this service. What this service adds:

- the websocket (reconnect with back-off, BootNotification rules, heartbeats);
- the durable transaction-message queue: the charger's session log is the source of
  truth, and every session in it is queued as StartTransaction and StopTransaction
  exactly once (in the same SQLite transaction that marks it queued), so kill -9 at any
  point loses nothing; messages leave the queue only once the CSMS has answered;
- authorisation for the charger (local list, cache, CSMS, offline rules);
- StatusNotifications, MeterValues, smart-charging limits, and the CSMS's commands,
  carried out through the charger's D-Bus API (handlers in ``chargepoint.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbus_fast import DBusError
from dbus_fast.aio import MessageBus
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from websockets import ConnectionClosed

from evnetd.bus.client import call as bus_call
from evnetd.bus.client import unwrap, watch_service
from evnetd.bus.connection import connect
from evnetd.bus.errors import InvalidArgument, NotAvailable
from evnetd.bus.names import CHARGER, METER, OCPP
from evnetd.ocpp.authorization import authorize
from evnetd.ocpp.authstore import AuthStore, IdTagInfo
from evnetd.ocpp.certificates import CENTRAL_SYSTEM_ROOT, MANUFACTURER_ROOT, CertificateStore, MissingCertificate
from evnetd.ocpp.chargepoint import EvnetChargePoint, LinkLost
from evnetd.ocpp.connection import Backoff, ConnectError, Endpoint, open_websocket
from evnetd.ocpp.firmware import FirmwareSetup, FirmwareUpdater, clear_pending_after_reboot, pending_after_reboot
from evnetd.ocpp.interface import OcppInterface
from evnetd.ocpp.keys import ChangeStatus, ConfigurationKeys
from evnetd.ocpp.link_settings import LinkSettings, LinkStore, check_link
from evnetd.ocpp.logs import LogSetup, LogUploader
from evnetd.ocpp.metervalues import REGISTER, MeterSampler, Reading, meter_value
from evnetd.ocpp.notifications import ConnectorStatus, Notification, StatusReporter
from evnetd.ocpp.profiles import ProfileStore
from evnetd.ocpp.queue import MessageQueue, QueuedMessage
from evnetd.ocpp.security import SecurityLog
from evnetd.ocpp.smartcharging import ActiveTransaction, SmartCharging, SmartChargingSettings
from evnetd.ocpp.timestamps import iso, parse_time, utc_now
from evnetd.runtime.config import Config
from evnetd.runtime.daemon import cancel_tasks, essential, request_restart, wait_event
from evnetd.runtime.log import fields
from evnetd.runtime.settings import SettingError

log = logging.getLogger("evnet.ocpp")

PROFILE_ATTEMPTS = 3  # failed connections with a new security profile before falling back
RESET_WAIT_S = 30.0  # Reset: how long the StopTransaction may take to be delivered first
BOOT_RETRY_S = 30.0  # a Boot answered with a CALLERROR or not at all (no interval given)
SESSIONS_LOOKBACK = 50


class OcppService:
    name = "evnet-ocpp"

    def __init__(self, config: Config) -> None:
        self.config = config
        # the library logs every frame at INFO: the journal gets them only when debugging
        frames = logging.DEBUG if config.general.log_level == "debug" else logging.WARNING
        for name in ("ocpp", "evnetd.ocpp.rpc"):
            logging.getLogger(name).setLevel(frames)
        self.interface = OcppInterface(self)
        self.reporter = StatusReporter()
        self.sampler = MeterSampler()
        self.bus: MessageBus | None = None
        self.cp: EvnetChargePoint | None = None
        self.accepted = False  # a BootNotification was Accepted in this run
        self.charger: dict[str, Any] = {}
        self.meter: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._pump_wake = asyncio.Event()
        self._status_wake = asyncio.Event()
        self._reconcile_wake = asyncio.Event()
        self._limit_wake = asyncio.Event()
        self._reconnect = asyncio.Event()
        self._heartbeat_changed = asyncio.Event()
        self._loop_turned = time.monotonic()
        self._invalid_id_suspended = False
        self._session_id: int | None = None
        self._running: set[asyncio.Future[Any]] = set()
        self._started_event_sent = False
        self._profile_fallback: int | None = None  # the security profile to return to if the new one fails
        self._profile_failures = 0

    # --- life cycle -----------------------------------------------------------------------
    async def start(self) -> None:
        state = self.config.general.state_dir
        self.keys = ConfigurationKeys(state / "ocpp-keys.db", initial=self.config.ocpp.keys)
        self.link_store = LinkStore(state / "ocpp-link.db")
        self.link = self.link_store.load(LinkSettings(self.config.ocpp.url, self.config.general.charge_point_id))
        self.queue = MessageQueue(state / "ocpp-queue.db")
        self.auth = AuthStore(state / "ocpp-auth.db")
        self.profiles = ProfileStore(state / "ocpp-profiles.db")
        self.smart = SmartCharging(self.profiles, self._smart_settings())
        self.security_log = SecurityLog(state / "ocpp-security.log")
        self.certificates = CertificateStore(state / "certificates")
        self.firmware = FirmwareUpdater(
            FirmwareSetup(
                download_dir=state / "firmware",
                state_dir=state,
                installer=self.config.ocpp.firmware_installer,
                wait_until_idle=self._until_no_session,
                reboot=self._restart_after_install,
                security_event=self._security_event_sink,
                certificates=self.certificates,
            )
        )
        self.logs = LogUploader(
            LogSetup(
                spool_dir=state / "spool",
                file_prefix=self.link.charge_point_id,
                security_log=self.security_log,
                status_snapshot=self._snapshot,
            )
        )
        self.bus = await connect(self.config.general.bus_address)
        self.bus.export(OCPP.path, self.interface)
        await self.bus.request_name(OCPP.bus_name)
        self.interface.publish({
            "PasswordSet": self._password_set(),
            "Url": self.link.url, "ChargePointId": self.link.charge_point_id, "QueueLength": len(self.queue),
        })  # fmt: skip
        await watch_service(self.bus, CHARGER, self._charger_changed)
        await watch_service(self.bus, METER, self._meter_changed)
        loop = asyncio.get_running_loop()
        self._tasks = [
            essential(loop.create_task(self._connection_loop(), name="connection")),
            essential(loop.create_task(self._pump(), name="queue")),
            essential(loop.create_task(self._status_loop(), name="status")),
            essential(loop.create_task(self._reconcile_loop(), name="sessions")),
            essential(loop.create_task(self._sampling_loop(), name="meter-values")),
            essential(loop.create_task(self._limit_loop(), name="limits")),
        ]

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        if self.cp is not None:
            with contextlib.suppress(Exception):
                await self.cp.close()
        for store in ("queue", "keys", "auth", "profiles", "link_store"):
            if hasattr(self, store):
                getattr(self, store).close()
        if self.bus:
            self.bus.disconnect()

    def healthy(self) -> bool:
        return time.monotonic() - self._loop_turned < 5.0

    def status_line(self) -> str:
        v = self.interface.values
        link = "connected" if v["Connected"] else "offline"
        return f"{link}, {v['Registration'] or 'not registered'}, {v['QueueLength']} queued"

    @property
    def online(self) -> bool:
        return self.cp is not None and self.accepted

    # --- the websocket ----------------------------------------------------------------------
    def endpoint(self) -> Endpoint:
        return Endpoint(
            self.link.url,
            self.link.charge_point_id,
            self.keys.integer("SecurityProfile"),
            self.config.ocpp.authorization_key if not self._stored_key() else self._stored_key(),
        )

    def _profile_attempt_failed(self) -> None:
        """A raised security profile that cannot connect falls back to the previous one (WP A05.FR.07)."""
        if self._profile_fallback is None:
            return
        self._profile_failures += 1
        if self._profile_failures >= PROFILE_ATTEMPTS:
            log.error("security profile %d cannot connect: back to %d",
                      self.keys.integer("SecurityProfile"), self._profile_fallback)  # fmt: skip
            self.keys.set_internal("SecurityProfile", str(self._profile_fallback))
            self._profile_fallback = None

    def _tls(self, endpoint: Endpoint) -> ssl.SSLContext | None:
        """Profiles 2 and 3: our certificate store; a wss:// URL below that: the system's roots."""
        context = self.certificates.ssl_context(endpoint.security_profile)
        if context is None and endpoint.address.startswith("wss://"):
            context = ssl.create_default_context()
        return context

    def _stored_key(self) -> str:
        return self.keys.text("AuthorizationKey")

    async def _connection_loop(self) -> None:
        """Connect, and again after each loss or ``request_reconnect``: a request made while an
        attempt is under way is kept for the next round (the event is cleared only here)."""
        backoff = Backoff(self.config.ocpp.reconnect_min_s, self.config.ocpp.reconnect_max_s)
        while True:
            self._reconnect.clear()
            endpoint = self.endpoint()
            if not endpoint.url:
                log.info("no CSMS configured: the charger runs offline")
                await self._reconnect.wait()  # SetConnection
                backoff.reset()
                continue
            try:
                ws = await open_websocket(endpoint, self._tls(endpoint), self.keys.integer("WebSocketPingInterval"))
            except (ConnectError, MissingCertificate) as exc:
                if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
                    self.security_event("InvalidCentralSystemCertificate", str(exc.__cause__))  # WP A00.FR.308
                self._profile_attempt_failed()
                delay = backoff.next()
                log.warning("CSMS unreachable (%s); next attempt in %.1f s", exc, delay)
                self.interface.publish({"LastError": str(exc)})
                await wait_event(self._reconnect, delay)
                continue
            backoff.reset()
            await self._run_connection(ws, endpoint)

    async def _run_connection(self, ws: Any, endpoint: Endpoint) -> None:
        cp = EvnetChargePoint(endpoint.charge_point_id, ws, self, self.keys.integer("MessageTimeout"))
        self.cp = cp
        self.interface.publish({"Connected": True, "LastError": ""})
        self._profile_fallback = None
        log.info("connected to %s", endpoint.address)
        reader = asyncio.ensure_future(cp.start())
        helpers = [asyncio.ensure_future(self._register(cp)), asyncio.ensure_future(self._heartbeat(cp))]
        reconnect = asyncio.ensure_future(self._reconnect.wait())
        try:
            await asyncio.wait([reader, reconnect], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*helpers, reconnect, reader):
                task.cancel()
            with contextlib.suppress(Exception):
                await ws.close()
            cp.closed.set()
            self.cp = None
            self.interface.publish({"Connected": False})
            log.warning("connection to the CSMS closed")
        self._wake_all()

    async def _register(self, cp: EvnetChargePoint) -> None:
        """BootNotification until Accepted (§4.2); once accepted, a reconnect needs none."""
        if self.accepted:
            await self._on_online(cp, booted=False)
            return
        while True:
            try:
                result = await cp.call(self.boot_request(), suppress=False)
            except (OCPPError, TimeoutError) as exc:
                log.warning("BootNotification failed (%s); again in %.0f s", exc, BOOT_RETRY_S)
                await asyncio.sleep(BOOT_RETRY_S)
                continue
            self.interface.publish({"Registration": result.status})
            cp.answer_calls = result.status != "Rejected"
            if result.status == "Accepted":
                if result.interval > 0:
                    self.keys.set_internal("HeartbeatInterval", str(result.interval))
                    self._heartbeat_changed.set()
                self.accepted = True
                log.info("registered with the CSMS (heartbeat %d s)", self.keys.integer("HeartbeatInterval"))
                await self._on_online(cp, booted=True)
                return
            interval = result.interval if result.interval > 0 else BOOT_RETRY_S
            log.warning("BootNotification %s; again in %.0f s", result.status, interval)
            await asyncio.sleep(interval)

    def boot_request(self) -> call.BootNotification:
        o = self.config.ocpp
        return call.BootNotification(
            charge_point_vendor=o.vendor,
            charge_point_model=o.model,
            charge_point_serial_number=self.link.charge_point_id,
            charge_box_serial_number=self.link.charge_point_id,
            firmware_version=_version(),
        )

    async def _on_online(self, cp: EvnetChargePoint, booted: bool) -> None:
        if booted:
            self.reporter.forget()
            if not self._started_event_sent:
                self._started_event_sent = True
                self.security_event("StartupOfTheDevice")
                self._report_pending_after_reboot()
        self._wake_all()
        self._reconcile_wake.set()

    async def _heartbeat(self, cp: EvnetChargePoint) -> None:
        """Every HeartbeatInterval; a new interval (from the boot or the CSMS) starts a new wait."""
        while True:
            interval = max(1, self.keys.integer("HeartbeatInterval"))
            self._heartbeat_changed.clear()
            if await wait_event(self._heartbeat_changed, interval):
                continue
            if self.accepted:
                with contextlib.suppress(OCPPError, TimeoutError, ConnectionClosed, LinkLost):
                    await cp.call_while_open(call.Heartbeat())

    def _queued(self) -> None:
        """Something was queued: show it on the bus and let the pump look."""
        self.interface.publish({"QueueLength": len(self.queue)})
        self._pump_wake.set()

    def request_reconnect(self) -> None:
        """After a new AuthorizationKey or SecurityProfile (once the .conf went out) or SetConnection:
        reconnect with it."""
        self._reconnect.set()

    def _wake_all(self) -> None:
        for event in (self._pump_wake, self._status_wake, self._limit_wake):
            event.set()

    # --- the durable queue ------------------------------------------------------------------
    async def _pump(self) -> None:
        while True:
            self.interface.publish({"QueueLength": len(self.queue)})
            message = self.queue.head()
            cp = self.cp
            if message is None or cp is None or not self.accepted:
                await self._wait(self._pump_wake, 1.0)
                continue
            wait = message.not_before - time.time()
            if wait > 0:
                await self._wait(self._pump_wake, min(wait, 1.0))
                continue
            await self._send_queued(cp, message)

    async def _send_queued(self, cp: EvnetChargePoint, message: QueuedMessage) -> None:
        payload = self.queue.unbound_payload(message)
        try:
            request = getattr(call, message.action)(**payload)
        except (AttributeError, TypeError) as exc:  # a message this version cannot build: never retried
            log.error("queued %s dropped: %s", message.action, exc, extra=fields(OCPP_ACTION=message.action))
            self.queue.delivered(message.seq)
            return
        try:
            result = await cp.call_while_open(request)
        except (ConnectionClosed, LinkLost):
            return  # not the CSMS's failure: sent again after the reconnect
        except (OCPPError, TimeoutError) as exc:
            if self.cp is not cp:
                return  # the link went down while waiting: not an attempt that failed
            again = self.queue.failed(
                message.seq,
                time.time(),
                self.keys.integer("TransactionMessageAttempts"),
                self.keys.integer("TransactionMessageRetryInterval"),
            )
            log.warning("%s failed (%s)%s", message.action, exc, "; will retry" if again else "; given up",
                        extra=fields(OCPP_ACTION=message.action))  # fmt: skip
            if not again and message.action == "StartTransaction" and message.session_key:
                self.queue.start_dropped(message.session_key)
            return
        if message.action == "StartTransaction" and message.session_key:
            await self._transaction_started(message, payload, result)
            return
        if message.action == "StopTransaction" and result.id_tag_info and payload.get("id_tag"):
            self.remember(payload["id_tag"], IdTagInfo.from_ocpp(result.id_tag_info))
        self.queue.delivered(message.seq)
        if message.action == "StopTransaction" and payload.get("transaction_id") is not None:
            self.smart.end_transaction(payload["transaction_id"])

    async def _transaction_started(self, message: QueuedMessage, payload: dict[str, Any], result: Any) -> None:
        """StartTransaction.conf: bind the id to the queued messages and acknowledge, atomically."""
        session_key = message.session_key
        assert session_key is not None
        info = IdTagInfo.from_ocpp(result.id_tag_info or {})
        self.queue.delivered_start(message.seq, result.transaction_id, info.parent_id_tag)
        self.remember(payload["id_tag"], info)
        log.info("transaction %d started for session %s", result.transaction_id, session_key,
                 extra=fields(SESSION_ID=session_key, OCPP_ACTION="StartTransaction"))  # fmt: skip
        self.smart.bind_transaction(ActiveTransaction(result.transaction_id, parse_time(payload["timestamp"])))
        await self._charger_call("SetTransactionId", "ui", [int(session_key), result.transaction_id])
        running = self.charger_session()
        if info.status != "Accepted" and running and str(running.get("id")) == session_key:
            await self._invalid_id(info.status)
        self._limit_wake.set()

    async def _invalid_id(self, status: str) -> None:
        """StartTransaction.conf not Accepted while the session runs (§4.8, errata 3.5/3.17)."""
        if self.keys.flag("StopTransactionOnInvalidId"):
            log.warning("id tag %s by the CSMS: stopping the transaction (DeAuthorized)", status)
            await self._charger_call("StopSessionWithReason", "s", ["DeAuthorized"])
        else:
            log.warning("id tag %s by the CSMS: energy delivery suspended", status)
            self._invalid_id_suspended = True
            self._limit_wake.set()

    def remember(self, id_tag: str, info: IdTagInfo) -> None:
        if self.keys.flag("AuthorizationCacheEnabled") and self.auth.listed(id_tag) is None:
            self.auth.remember(id_tag, info, utc_now())

    # --- the charger's sessions → the queue -----------------------------------------------
    async def _reconcile_loop(self) -> None:
        while True:
            await self._reconcile_wake.wait()
            self._reconcile_wake.clear()
            try:
                await self._reconcile()
            except NotAvailable:
                continue  # the charger is not running; reconciled when it appears
            except (DBusError, TimeoutError) as exc:
                log.warning("reading the charger's sessions failed (%s); trying again", exc)
                await asyncio.sleep(1.0)
                self._reconcile_wake.set()

    async def _reconcile(self) -> None:
        """Queue Start/Stop for every session of the charger's log not yet queued, oldest first."""
        assert self.bus is not None
        sessions = unwrap(await bus_call(self.bus, CHARGER, "Sessions", "u", [SESSIONS_LOOKBACK]))
        baseline = self._baseline(sessions)
        for session in sorted(sessions, key=lambda s: s["id"]):
            if session["id"] <= baseline:
                continue
            key = str(session["id"])
            record = self.queue.session_state(key)
            if record is None or not record.start_queued:
                self.queue.push_start(key, self._start_payload(session))
                log.info("session %s queued for StartTransaction", key, extra=fields(SESSION_ID=key))
            if not math.isnan(session["stopped_at"]) and (record is None or not record.stop_queued):
                self.queue.push_stop(key, self._stop_payload(session))
                log.info("session %s queued for StopTransaction (%s)", key, session["stop_reason"],
                         extra=fields(SESSION_ID=key))  # fmt: skip
        self._queued()

    def _baseline(self, sessions: list[dict[str, Any]]) -> int:
        """Sessions that ended before this service first ran are history, not transactions."""
        path: Path = self.config.general.state_dir / "ocpp-first-session"
        if path.exists():
            return int(path.read_text())
        finished = [s["id"] for s in sessions if not math.isnan(s["stopped_at"])]
        baseline = max(finished, default=0)
        path.write_text(f"{baseline}\n")
        return baseline

    @staticmethod
    def _start_payload(session: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "connector_id": 1,
            "id_tag": session["id_tag"][:20],
            "meter_start": int(session["start_wh"]),
            "timestamp": iso(datetime.fromtimestamp(session["started_at"], UTC)),
        }
        if session.get("reservation_id", -1) >= 0:
            payload["reservation_id"] = session["reservation_id"]
        return payload

    def _stop_payload(self, session: dict[str, Any]) -> dict[str, Any]:
        stopped = iso(datetime.fromtimestamp(session["stopped_at"], UTC))
        payload: dict[str, Any] = {
            "transaction_id": None,  # bound when StartTransaction.conf arrives
            "meter_stop": int(session["last_wh"]),
            "timestamp": stopped,
            "reason": session["stop_reason"] or "Local",
        }
        if session["stop_reason"] in ("Local", "DeAuthorized", "UnlockCommand"):
            payload["id_tag"] = session["id_tag"][:20]
        if self.keys.items("StopTxnSampledData") or self.keys.items("StopTxnAlignedData"):
            started = datetime.fromtimestamp(session["started_at"], UTC)
            stopped_at = datetime.fromtimestamp(session["stopped_at"], UTC)
            payload["transaction_data"] = [
                meter_value(started, _register_only(session["start_wh"]), [REGISTER], "Transaction.Begin"),
                meter_value(stopped_at, _register_only(session["last_wh"]), [REGISTER], "Transaction.End"),
            ]
        return payload

    # --- what the charger and the meter tell us -------------------------------------------
    def _charger_changed(self, props: dict[str, Any] | None) -> None:
        if props is None:
            self.charger = {}
            return
        self.charger.update(props)
        # the charger's status means something once its loop has run (the pilot is known)
        if {"Status", "ErrorCode", "ErrorInfo", "Pilot"} & props.keys() and self.charger.get("Pilot"):
            status = ConnectorStatus(
                self.charger.get("Status", "Unavailable"),
                self.charger.get("ErrorCode", "NoError"),
                self.charger.get("ErrorInfo", ""),
            )
            self.reporter.observe(status, time.monotonic())
            self._status_wake.set()
        if "Session" in props:
            session_id = props["Session"].get("id") if props["Session"] else None
            if session_id != self._session_id:
                self._session_id = session_id
                if session_id is None:
                    self._invalid_id_suspended = False
                    self._background(self._apply_scheduled_availability())
                self._reconcile_wake.set()
                self._limit_wake.set()
        if len(props) > 3:  # the charger (re)appeared: everything at once
            self._reconcile_wake.set()

    def _meter_changed(self, props: dict[str, Any] | None) -> None:
        if props is None:
            self.meter = {}
        else:
            self.meter.update(props)

    def charger_session(self) -> dict[str, Any] | None:
        return self.charger.get("Session") or None

    def active_transaction(self) -> ActiveTransaction | None:
        """The running session as an OCPP transaction (its id once the CSMS gave one)."""
        session = self.charger_session()
        if not session:
            return None
        transaction_id = self.queue.transaction_id(str(session["id"]))
        started = datetime.fromtimestamp(session.get("started_at", time.time()), UTC)
        return ActiveTransaction(transaction_id if transaction_id is not None else -1, started)

    def reading_available(self) -> bool:
        return not math.isnan(self.reading().energy_wh)

    def reading(self) -> Reading:
        m, c = self.meter, self.charger

        def number(source: dict[str, Any], key: str) -> float:
            value = source.get(key, math.nan)
            return float(value) if isinstance(value, int | float) else math.nan

        return Reading(
            energy_wh=number(m, "EnergyWh"), power_w=number(m, "Power"), current_a=number(m, "Current"),
            voltage_v=number(m, "Voltage"), frequency_hz=number(m, "Frequency"),
            temperature_c=number(m, "Temperature"), offered_a=number(c, "OfferedCurrent"),
            power_factor=number(m, "PowerFactor"),
        )  # fmt: skip

    # --- status notifications ---------------------------------------------------------------
    async def _status_loop(self) -> None:
        while True:
            minimum = self.keys.integer("MinimumStatusDuration")
            cp = self.cp
            if cp is not None and self.accepted:
                for notification in self.reporter.due(time.monotonic(), minimum):
                    self.reporter.told(notification)
                    if not await self.send_status(cp, notification):
                        self.reporter.forget()
                        break
            due = self.reporter.next_due(minimum) if cp is not None and self.accepted else None
            # offline, notifications stay due until a CSMS accepts us: wait for that (or a
            # change), not for a deadline already past, which would spin this loop
            timeout = 1.0 if due is None else max(0.0, min(1.0, due - time.monotonic()))
            await self._wait(self._status_wake, timeout)

    async def send_status(self, cp: EvnetChargePoint, notification: Notification) -> bool:
        status = notification.status
        request = call.StatusNotification(
            connector_id=notification.connector_id,
            error_code=status.error_code,
            status=status.status,
            timestamp=iso(utc_now()),
            info=status.info[:50] or None,
        )
        try:
            await cp.call_while_open(request)
        except (OCPPError, TimeoutError, ConnectionClosed, LinkLost) as exc:
            log.warning("StatusNotification %s not delivered: %s", status.status, exc)
            return False
        return True

    # --- meter values -----------------------------------------------------------------------
    async def _sampling_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self._loop_turned = time.monotonic()  # the watchdog's proof of life: this loop never waits on the CSMS
            now = utc_now()
            transaction = self.active_transaction()
            started = transaction.started_at if transaction else None
            sample = self.keys.integer("MeterValueSampleInterval")
            aligned = self.keys.integer("ClockAlignedDataInterval")
            for context in self.sampler.due(now, sample, aligned, started):
                self.queue_meter_values(now, context)

    def queue_meter_values(self, now: datetime, context: str) -> None:
        """Queue a MeterValues (durable: it is transaction-related when a session runs)."""
        key = "MeterValuesAlignedData" if context == "Sample.Clock" else "MeterValuesSampledData"
        reading = self.reading()
        if math.isnan(reading.energy_wh):
            return  # no meter: nothing true to report
        session = self.charger_session()
        if context == "Sample.Periodic" and not session:
            return
        payload: dict[str, Any] = {
            "connector_id": 1,
            "meter_value": [meter_value(now, reading, self.keys.items(key), context)],
        }
        session_key = str(session["id"]) if session else None
        if session_key is not None:
            payload["transaction_id"] = self.queue.transaction_id(session_key)
        self.queue.push("MeterValues", payload, session_key=session_key)
        self._queued()

    # --- the limit for the charger ----------------------------------------------------------
    async def _limit_loop(self) -> None:
        sent: tuple[float | None, bool] | None = None
        while True:
            now = utc_now()
            amps, changes_at = self.smart.limit_at(now, self.active_transaction())
            if self._invalid_id_suspended:
                amps = 0.0
            if (amps, True) != sent and await self._apply_limit(amps):
                sent = (amps, True)
            timeout = 5.0
            if changes_at is not None:
                timeout = max(0.05, min(timeout, (changes_at - now).total_seconds()))
            await self._wait(self._limit_wake, timeout)

    async def _apply_limit(self, amps: float | None) -> bool:
        if amps is None:
            return await self._charger_call("ClearLimit", "s", ["ocpp"])
        return await self._charger_call("SetLimit", "sdd", ["ocpp", float(amps), 0.0])

    def limits_changed(self) -> None:
        self._limit_wake.set()

    # --- availability and reset -------------------------------------------------------------
    def schedule_availability(self, operative: bool) -> None:
        """ChangeAvailability during a transaction: applied when it ends (kept across restarts)."""
        self._scheduled_path().write_text("Operative\n" if operative else "Inoperative\n")

    def _scheduled_path(self) -> Path:
        return self.config.general.state_dir / "ocpp-scheduled-availability"

    async def _apply_scheduled_availability(self) -> None:
        path = self._scheduled_path()
        if path.exists() and not self.charger_session():
            operative = path.read_text().strip() == "Operative"
            if await self._charger_call("SetAvailable", "b", [operative]):
                path.unlink()

    async def reset(self, hard: bool) -> None:
        """Reset (§5.14): stop the transaction first, let its StopTransaction go out, restart."""
        kind = "Hard" if hard else "Soft"
        if self.charger_session():
            await self._charger_call("StopSessionWithReason", "s", [f"{kind}Reset"])
            deadline = time.monotonic() + RESET_WAIT_S
            while time.monotonic() < deadline and self.charger_session():
                await asyncio.sleep(0.1)
            with contextlib.suppress(NotAvailable):
                await self._reconcile()  # the StopTransaction is queued now, not whenever the loop runs
            while time.monotonic() < deadline and self._stop_pending():
                await asyncio.sleep(0.1)
        log.warning("%s reset requested by the CSMS", kind)
        self.security_event("ResetOrReboot", f"{kind} reset")
        await self._restart(self.config.ocpp.hard_reset_command if hard else self.config.ocpp.soft_reset_command)

    @staticmethod
    async def _restart(command: list[str]) -> None:
        """Run the configured reset command; without one, this service restarts (exit 75)."""
        if command:
            process = await asyncio.create_subprocess_exec(*command)
            await process.wait()
        else:
            request_restart()

    def _stop_pending(self) -> bool:
        return any(m.action == "StopTransaction" for m in self.queue.peek_many(100))

    # --- calls into the charger -------------------------------------------------------------
    async def _charger_call(self, member: str, signature: str, body: list[Any]) -> bool:
        if self.bus is None:
            return False
        try:
            await bus_call(self.bus, CHARGER, member, signature, body)
        except NotAvailable as exc:
            log.debug("charger %s: %s", member, exc)  # it is (re)starting; tried again later
            return False
        except InvalidArgument as exc:
            log.warning("charger %s refused: %s", member, exc)
            return False
        except Exception as exc:  # any other bus error: logged, the caller decides
            log.warning("charger %s failed: %s", member, exc)
            return False
        return True

    async def charger_method(self, member: str, signature: str = "", body: list[Any] | None = None) -> Any:
        """A charger method whose errors the caller handles (CSMS commands)."""
        assert self.bus is not None
        return unwrap(await bus_call(self.bus, CHARGER, member, signature, body or []))

    # --- org.evnet.Ocpp1 ----------------------------------------------------------------------
    async def authorize(self, id_tag: str) -> tuple[bool, str]:
        info = await authorize(self, id_tag)
        return info.status == "Accepted", info.parent_id_tag or ""

    def local_list_conflict(self, id_tag: str) -> None:
        """The CSMS contradicts the local list: tell it on connector 0 (§3.5.2)."""
        log.warning("id tag %s: the CSMS contradicts the local list", id_tag)
        current = self.reporter.current(0) or ConnectorStatus("Available")
        notification = Notification(0, ConnectorStatus(current.status, "LocalListConflict", id_tag))
        if self.cp is not None:
            self._background(self.send_status(self.cp, notification))

    def get_configuration(self, keys: list[str]) -> list[list[Any]]:
        known, _unknown = self.keys.get(keys or None)
        return [[k["key"], bool(k["readonly"]), str(k.get("value", ""))] for k in known]

    def change_configuration(self, key: str, value: str) -> str:
        """From evnetctl: the same rules as for the CSMS, and the side effects at once."""
        status = self.apply_configuration(key, value)
        if status in (ChangeStatus.ACCEPTED, ChangeStatus.REBOOT_REQUIRED):
            self.configuration_changed(key)
        return status.value

    def apply_configuration(self, key: str, value: str) -> ChangeStatus:
        """ChangeConfiguration, plus the security profile's prerequisites (WP A05: Rejected without them)."""
        if key.lower() == "securityprofile" and value.strip().isdigit():
            missing = self._security_profile_missing(int(value))
            if missing:
                log.warning("SecurityProfile %s rejected: %s", value, missing)
                return ChangeStatus.REJECTED
            previous = self.keys.integer("SecurityProfile")
            status = self.keys.change(key, value)
            if status is ChangeStatus.ACCEPTED and int(value) != previous:
                self._profile_fallback = previous  # until a connection with the new profile works
                self._profile_failures = 0
            return status
        return self.keys.change(key, value)

    def _password_set(self) -> bool:
        """Whether a Basic-auth password (AuthorizationKey) is set; the key itself is write-only."""
        return bool(self._stored_key() or self.config.ocpp.authorization_key)

    def _security_profile_missing(self, profile: int) -> str:
        if profile in (1, 2) and not self._password_set():
            return "no AuthorizationKey"
        if profile >= 2 and not self.certificates.roots("CentralSystemRootCertificate"):
            return "no CentralSystemRootCertificate"
        if profile == 3 and not self.certificates.has_charge_point_certificate():
            return "no charge point certificate"
        if profile >= 2 and not self.link.url.startswith("wss://"):
            return "the CSMS URL is not wss://"
        return ""

    def configuration_changed(self, key: str) -> None:
        """Side effects of a changed key that must not wait for a restart."""
        if key in ("AuthorizationKey", "SecurityProfile"):
            self.interface.publish({"PasswordSet": self._password_set()})
            self.request_reconnect()
        elif key == "HeartbeatInterval":
            self._heartbeat_changed.set()
        elif key == "ConnectionTimeOut":
            self._background(self._charger_call("SetConnectionTimeout", "u", [self.keys.integer("ConnectionTimeOut")]))
        self._wake_all()

    def set_connection(self, url: str, charge_point_id: str) -> None:
        """Where to connect and as whom, over the config file from now on; reconnects at once
        (a new CSMS or identity registers anew with a BootNotification)."""
        try:
            link = check_link(url, charge_point_id, self.keys.integer("SecurityProfile"))
        except SettingError as exc:
            raise InvalidArgument(str(exc)) from None
        self.link_store.save(link)
        if link != self.link:
            self.link = link
            self.accepted = False
            self.interface.publish({"Url": link.url, "ChargePointId": link.charge_point_id, "Registration": ""})
        log.info("CSMS connection set: %s as %s", link.url or "offline", link.charge_point_id)
        self.interface.publish({"LastError": ""})
        self.request_reconnect()

    def install_certificate(self, certificate_type: str, pem: str) -> str:
        """InstallCertificate from the web client or evnetctl: the CSMS's rules and answer."""
        if certificate_type not in (CENTRAL_SYSTEM_ROOT, MANUFACTURER_ROOT):
            raise InvalidArgument(f"certificate_type: {certificate_type!r}: must be {CENTRAL_SYSTEM_ROOT} "
                                  f"or {MANUFACTURER_ROOT}")  # fmt: skip
        outcome = self.certificates.install(
            certificate_type, pem, max_length=self.keys.integer("CertificateStoreMaxLength")
        )
        if outcome.security_event:
            self.security_event(outcome.security_event, f"InstallCertificate {certificate_type} (local)")
        return str(outcome.status)

    def _smart_settings(self) -> SmartChargingSettings:
        k = self.keys
        return SmartChargingSettings(
            max_stack_level=k.integer("ChargeProfileMaxStackLevel"),
            max_profiles=k.integer("MaxChargingProfilesInstalled"),
            max_periods=k.integer("ChargingScheduleMaxPeriods"),
            allowed_units=tuple(
                {"Current": "A", "Power": "W"}[u] for u in k.items("ChargingScheduleAllowedChargingRateUnit")
            ),
            supply_voltage_v=float(k.integer("SupplyVoltage")),
            default_phases=k.integer("CompositeScheduleDefaultNumberPhases"),
            local_limit_a=self.config.charger.max_current_a,
        )

    def security_event(self, kind: str, info: str | None = None) -> None:
        """Log the event; the critical ones go through the durable queue (WP A04.FR.02)."""
        log.warning("security event %s%s", kind, f": {info}" if info else "")
        event = self.security_log.record(kind, info)
        if event is not None:
            payload = {"type": event.type, "timestamp": iso(event.timestamp), "tech_info": event.tech_info}
            self.queue.push("SecurityEventNotification", payload)
            self._queued()

    async def _security_event_sink(self, kind: str, info: str | None) -> None:
        self.security_event(kind, info)

    # --- file transfers: their statuses go through the durable queue --------------------------
    def _notify(self, action: str, payload: dict[str, Any]) -> None:
        self.queue.push(action, payload)
        self._queued()

    async def firmware_status_report(self, status: str) -> None:
        self._notify("FirmwareStatusNotification", {"status": status})

    async def signed_firmware_status_report(self, status: str) -> None:
        self._notify("SignedFirmwareStatusNotification", {"status": status, "request_id": self.firmware.request_id})

    async def diagnostics_status_report(self, status: str) -> None:
        self._notify("DiagnosticsStatusNotification", {"status": status})

    async def log_status_report(self, status: str) -> None:
        self._notify("LogStatusNotification", {"status": status, "request_id": self.logs.log_request_id})

    async def _until_no_session(self) -> None:
        """Firmware is installed only when no EV is charging (§5.19)."""
        while self.charger_session():
            await asyncio.sleep(1.0)

    async def _restart_after_install(self) -> None:
        """The installer asked for a restart: the new code runs after it; Installed follows."""
        self.security_event("FirmwareUpdated")
        await self._restart(self.config.ocpp.hard_reset_command)

    def _report_pending_after_reboot(self) -> None:
        """Statuses owed from before a restart (e.g. Installed after a firmware update)."""
        for pending in pending_after_reboot(self.config.general.state_dir):
            if pending.signed:
                self._notify("SignedFirmwareStatusNotification",
                             {"status": pending.status, "request_id": pending.request_id})  # fmt: skip
            else:
                self._notify("FirmwareStatusNotification", {"status": pending.status})
        clear_pending_after_reboot(self.config.general.state_dir)

    async def _snapshot(self) -> dict[str, Any]:
        """What a diagnostics file says about the charger right now."""
        return {
            "charger": _plain(self.charger), "meter": _plain(self.meter), "ocpp": _plain(self.interface.values),
            "queue_length": len(self.queue),
        }  # fmt: skip

    def _background(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` on its own; a failure is logged, never lost."""
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    @staticmethod
    async def _wait(event: asyncio.Event, timeout: float) -> None:
        """Until ``event`` is set or ``timeout`` passed; then ready for the next wake-up."""
        await wait_event(event, timeout)
        event.clear()


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Bus values as JSON can hold them (NaN as null)."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}


def _register_only(wh: float) -> Reading:
    """A reading with the energy register alone (all the charger's session log keeps)."""
    return Reading(wh, *(math.nan,) * 7)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("evnetd")
    except PackageNotFoundError:
        return "0+unknown"
