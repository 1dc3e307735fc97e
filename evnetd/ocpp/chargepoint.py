# mypy: disable-error-code="untyped-decorator"
# (the ocpp library ships no type information, so its @on/@after decorators are untyped)
"""What the charger answers to each CSMS command (the Core, Local Auth List, Reservation,
Smart Charging and Remote Trigger profiles).

Handlers decide and answer at once; anything that needs another OCPP call or a slow
charger action runs in the matching ``@after`` (the library handles incoming CALLs one
at a time inside its receive loop, so a ``call()`` from an ``@on`` handler would wait
for an answer that loop can never read: reference/ocpp16.md §1.8 pitfall 1). Charger
actions go over D-Bus to ``org.evnet.Charger1``; errors there become the OCPP status
the spec gives for "could not" (Rejected, UnlockFailed, …), never a dropped connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from evnetd.bus.errors import EvnetBusError
from evnetd.ocpp.management import ManagementHandlers
from evnetd.ocpp.metervalues import meter_value
from evnetd.ocpp.notifications import Notification, charge_point_status
from evnetd.ocpp.rpc import StrictChargePoint
from evnetd.ocpp.timestamps import parse_time, utc_now

if TYPE_CHECKING:
    from evnetd.ocpp.service import OcppService

log = logging.getLogger("evnet.ocpp")

CONNECTOR = 1
BUSY = ("Charging", "SuspendedEV", "SuspendedEVSE", "Finishing")
TRIGGERS = (
    "BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Heartbeat",
    "MeterValues", "StatusNotification",
)  # fmt: skip
EXTENDED_TRIGGERS = (*TRIGGERS, "LogStatusNotification", "SignChargePointCertificate")


class LinkLost(Exception):
    """The websocket closed while a CALL waited for its answer: not a failure of the CSMS."""


class EvnetChargePoint(StrictChargePoint, ManagementHandlers):
    def __init__(self, cp_id: str, connection: Any, app: OcppService, response_timeout: int) -> None:
        super().__init__(cp_id, connection, response_timeout=response_timeout)
        self.app = app
        self.closed = asyncio.Event()  # set by the service when the websocket has closed
        self._availability: str | None = None  # the decision of the last ChangeAvailability
        self._remote_start_accepted = False  # the answer to the last RemoteStartTransaction
        self._configuration_changed = False  # the last ChangeConfiguration was Accepted (or RebootRequired)

    async def close(self) -> None:
        await self._connection.close()

    async def call_while_open(self, payload: Any) -> Any:
        """``call(payload, suppress=False)`` that ends with LinkLost as soon as the link closes
        (the library itself would wait out the whole response timeout)."""
        request = asyncio.ensure_future(self.call(payload, suppress=False))
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            await asyncio.wait({request, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if request.done():
            return request.result()
        request.cancel()
        raise LinkLost(f"the link closed while waiting for the answer to {type(payload).__name__}")

    @property
    def status(self) -> str:
        return str(self.app.charger.get("Status", "Unavailable"))

    # --- Core -----------------------------------------------------------------------------
    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **_: Any) -> call_result.ChangeAvailability:
        if connector_id not in (0, CONNECTOR):
            return call_result.ChangeAvailability(status="Rejected")
        operative = type == "Operative"
        if bool(self.app.charger.get("Available", True)) == operative:
            self._availability = None
            if self.app.charger_session():
                self.app.schedule_availability(operative)  # replaces a Scheduled change still pending
            return call_result.ChangeAvailability(status="Accepted")
        if not operative and self.app.charger_session():
            self.app.schedule_availability(False)
            self._availability = None
            return call_result.ChangeAvailability(status="Scheduled")
        self._availability = type
        return call_result.ChangeAvailability(status="Accepted")

    @after(Action.change_availability)
    async def after_change_availability(self, **_: Any) -> None:
        if self._availability is not None:
            await self.app.charger_method("SetAvailable", "b", [self._availability == "Operative"])
            self._availability = None

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> call_result.ChangeConfiguration:
        status = self.app.apply_configuration(key, value)
        self._configuration_changed = status.value in ("Accepted", "RebootRequired")
        log.info("configuration %s changed by the CSMS: %s", key, status.value)
        return call_result.ChangeConfiguration(status=status.value)

    @after(Action.change_configuration)
    def after_change_configuration(self, key: str, **_: Any) -> None:
        if self._configuration_changed:  # @after runs whatever @on answered: a Rejected key has no side effects
            self.app.configuration_changed(key)

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> call_result.GetConfiguration:
        known, unknown = self.app.keys.get(key or None)
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> call_result.ClearCache:
        self.app.auth.clear_cache()
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.remote_start_transaction)
    def on_remote_start(
        self, id_tag: str, connector_id: int | None = None, charging_profile: dict[str, Any] | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        reason = self._remote_start_refusal(id_tag, connector_id, charging_profile)
        self._remote_start_accepted = not reason
        if reason:
            log.info("RemoteStartTransaction for %s rejected: %s", id_tag, reason)
            return call_result.RemoteStartTransaction(status="Rejected")
        return call_result.RemoteStartTransaction(status="Accepted")

    def _remote_start_refusal(self, id_tag: str, connector_id: int | None, profile: dict[str, Any] | None) -> str:
        if self.app.interface.values["Registration"] != "Accepted":
            return "not registered"
        if connector_id is not None and connector_id != CONNECTOR:
            return f"no connector {connector_id}"
        if self.status in ("Unavailable", "Faulted", *BUSY) or self.app.charger_session():
            return f"connector is {self.status}"
        reservation = self.app.charger.get("Reservation") or {}
        if reservation and reservation.get("id_tag", "").upper() != id_tag.upper():
            return "reserved for another id tag"
        if profile is not None:
            if profile.get("charging_profile_purpose") != "TxProfile":
                return "the charging profile is not a TxProfile"
            status = self.app.smart.set_profile(CONNECTOR, profile, None, utc_now(), from_remote_start=True)
            if status != "Accepted":
                return "the charging profile is invalid"
        return ""

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, **_: Any) -> None:
        # @after runs whatever @on answered: a Rejected request must not start a session
        if not self._remote_start_accepted:
            return
        if self.app.interface.values["Registration"] != "Accepted" or self.app.charger_session():
            return
        if self.app.keys.flag("AuthorizeRemoteTxRequests"):
            accepted, _parent = await self.app.authorize(id_tag)
            if not accepted:
                log.info("remote start for %s: not authorised", id_tag)
                self.app.smart.discard_pending()  # its TxProfile must not bind to a later transaction
                return
        try:
            await self.app.charger_method("StartSession", "s", [id_tag])
        except EvnetBusError as exc:
            log.warning("remote start for %s: the charger refused (%s)", id_tag, exc)
            self.app.smart.discard_pending()

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int, **_: Any) -> call_result.RemoteStopTransaction:
        transaction = self.app.active_transaction()
        if transaction is None or transaction.transaction_id != transaction_id:
            return call_result.RemoteStopTransaction(status="Rejected")
        return call_result.RemoteStopTransaction(status="Accepted")

    @after(Action.remote_stop_transaction)
    async def after_remote_stop(self, transaction_id: int, **_: Any) -> None:
        transaction = self.app.active_transaction()
        if transaction is not None and transaction.transaction_id == transaction_id:
            await self.app.charger_method("StopSessionWithReason", "s", ["Remote"])

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any) -> call_result.Reset:
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str, **_: Any) -> None:
        await self.app.reset(hard=type == "Hard")

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, connector_id: int, **_: Any) -> call_result.UnlockConnector:
        if connector_id != CONNECTOR or self.app.config.charger.tethered:
            return call_result.UnlockConnector(status="NotSupported")
        try:
            await self.app.charger_method("Unlock")
        except EvnetBusError as exc:
            log.warning("UnlockConnector: %s", exc)
            return call_result.UnlockConnector(status="UnlockFailed")
        return call_result.UnlockConnector(status="Unlocked")

    # --- Local Auth List Management -----------------------------------------------------------
    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> call_result.GetLocalListVersion:
        if not self.app.keys.flag("LocalAuthListEnabled"):
            return call_result.GetLocalListVersion(list_version=-1)
        return call_result.GetLocalListVersion(list_version=self.app.auth.list_version())

    @on(Action.send_local_list)
    def on_send_local_list(
        self, list_version: int, update_type: str, local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> call_result.SendLocalList:  # fmt: skip
        if not self.app.keys.flag("LocalAuthListEnabled"):
            return call_result.SendLocalList(status="NotSupported")
        entries = local_authorization_list or []
        if len(entries) > self.app.keys.integer("SendLocalListMaxLength"):
            return call_result.SendLocalList(status="Failed")
        status = self.app.auth.send_local_list(
            list_version, update_type, entries, self.app.keys.integer("LocalAuthListMaxLength")
        )
        return call_result.SendLocalList(status=status)

    # --- Reservation ------------------------------------------------------------------------
    @on(Action.reserve_now)
    async def on_reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int,
        parent_id_tag: str | None = None, **_: Any,
    ) -> call_result.ReserveNow:  # fmt: skip
        if connector_id == 0 and not self.app.keys.flag("ReserveConnectorZeroSupported"):
            return call_result.ReserveNow(status="Rejected")
        if connector_id not in (0, CONNECTOR):
            return call_result.ReserveNow(status="Rejected")
        expiry = parse_time(expiry_date).timestamp()
        try:
            status = await self.app.charger_method(
                "Reserve", "issd", [reservation_id, id_tag, parent_id_tag or "", expiry]
            )
        except EvnetBusError as exc:
            log.warning("ReserveNow: %s", exc)
            return call_result.ReserveNow(status="Rejected")
        return call_result.ReserveNow(status=str(status))

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int, **_: Any) -> call_result.CancelReservation:
        try:
            found = await self.app.charger_method("CancelReservation", "i", [reservation_id])
        except EvnetBusError:
            found = False
        return call_result.CancelReservation(status="Accepted" if found else "Rejected")

    # --- Smart Charging ---------------------------------------------------------------------
    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> call_result.SetChargingProfile:
        transaction = self.app.active_transaction()
        if transaction is not None and transaction.transaction_id < 0:
            transaction = None  # no id from the CSMS yet: a TxProfile cannot name it
        status = self.app.smart.set_profile(connector_id, cs_charging_profiles, transaction, utc_now())
        return call_result.SetChargingProfile(status=status)

    @after(Action.set_charging_profile)
    def after_set_charging_profile(self, **_: Any) -> None:
        self.app.limits_changed()

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self, id: int | None = None, connector_id: int | None = None, charging_profile_purpose: str | None = None,
        stack_level: int | None = None, **_: Any,
    ) -> call_result.ClearChargingProfile:  # fmt: skip
        status = self.app.smart.clear(id, connector_id, charging_profile_purpose, stack_level)
        return call_result.ClearChargingProfile(status=status)

    @after(Action.clear_charging_profile)
    def after_clear_charging_profile(self, **_: Any) -> None:
        self.app.limits_changed()

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ) -> call_result.GetCompositeSchedule:
        now = utc_now()
        schedule = self.app.smart.composite(connector_id, duration, charging_rate_unit, now,
                                            self.app.active_transaction())  # fmt: skip
        if schedule is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        return call_result.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start=schedule["start_schedule"],
            charging_schedule=schedule,
        )  # fmt: skip

    # --- Remote Trigger ---------------------------------------------------------------------
    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> call_result.TriggerMessage:
        return call_result.TriggerMessage(status=self._trigger_status(requested_message, connector_id, TRIGGERS))

    @after(Action.trigger_message)
    async def after_trigger_message(self, requested_message: str, connector_id: int | None = None, **_: Any) -> None:
        if self._trigger_status(requested_message, connector_id, TRIGGERS) == "Accepted":
            await self.send_triggered(requested_message, connector_id)

    @on(Action.extended_trigger_message)
    def on_extended_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> call_result.ExtendedTriggerMessage:
        status = self._trigger_status(requested_message, connector_id, EXTENDED_TRIGGERS)
        return call_result.ExtendedTriggerMessage(status=status)

    @after(Action.extended_trigger_message)
    async def after_extended_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> None:
        if self._trigger_status(requested_message, connector_id, EXTENDED_TRIGGERS) == "Accepted":
            await self.send_triggered(requested_message, connector_id)

    def _trigger_status(self, message: str, connector_id: int | None, supported: tuple[str, ...]) -> str:
        if message not in supported:
            return "NotImplemented"
        if connector_id is not None and connector_id not in (0, CONNECTOR):
            return "Rejected"
        if message == "MeterValues" and not self.app.reading_available():
            return "Rejected"
        return "Accepted"

    async def send_triggered(self, message: str, connector_id: int | None) -> None:
        """The requested message, after the .conf went out (§5.17)."""
        if message == "BootNotification":
            result = await self.call(self.app.boot_request(), suppress=False)
            self.app.interface.publish({"Registration": result.status})
        elif message == "Heartbeat":
            await self.call(call.Heartbeat(), suppress=False)
        elif message == "StatusNotification":
            await self._triggered_status(connector_id)
        elif message == "MeterValues":
            await self._triggered_meter_values()
        else:
            await self.send_file_status(message)

    async def _triggered_status(self, connector_id: int | None) -> None:
        current = self.app.reporter.current(CONNECTOR)
        if current is None:
            return
        targets = (0, CONNECTOR) if connector_id is None else (connector_id,)
        for target in targets:
            status = current if target == CONNECTOR else charge_point_status(current)
            await self.app.send_status(self, Notification(target, status))

    async def _triggered_meter_values(self) -> None:
        reading = self.app.reading()
        payload: dict[str, Any] = {
            "connector_id": CONNECTOR,
            "meter_value": [meter_value(utc_now(), reading, self.app.keys.items("MeterValuesSampledData"), "Trigger")],
        }
        transaction = self.app.active_transaction()
        if transaction is not None and transaction.transaction_id >= 0:
            payload["transaction_id"] = transaction.transaction_id
        await self.call(call.MeterValues(**payload), suppress=False)
