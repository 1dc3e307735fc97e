# mypy: disable-error-code="untyped-decorator"
# (the ocpp library ships no type information, so its @on/@after decorators are untyped)
"""The Firmware Management profile and the security whitepaper's commands.

A mixin of the charge point's handlers: files (firmware, diagnostics, logs) and
certificates. The procedures themselves live in ``firmware.py``, ``logs.py`` and
``certificates.py``; these handlers turn a CSMS request into one of them and every status
they report into a notification on the durable queue, so a status reached while the link
is down still arrives, in order.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import NotSupportedError
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from evnetd.ocpp.certificates import InvalidCertificate
from evnetd.ocpp.firmware import PlainRequest, SignedRequest
from evnetd.ocpp.logs import DiagnosticsRequest, LogRequest

if TYPE_CHECKING:
    from evnetd.ocpp.service import OcppService

log = logging.getLogger("evnet.ocpp")


class ManagementHandlers:
    """Handlers mixed into ``EvnetChargePoint`` (which provides ``app`` and ``call``)."""

    app: OcppService

    if TYPE_CHECKING:

        async def call(self, payload: Any, suppress: bool = True) -> Any: ...  # the charge point's

    # --- Firmware Management -----------------------------------------------------------------
    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> call_result.UpdateFirmware:
        if not self.app.keys.flag("LegacyFirmwareUpdateEnabled"):
            raise NotSupportedError(description="use SignedUpdateFirmware")  # WP L01.FR.20
        return call_result.UpdateFirmware()

    @after(Action.update_firmware)
    async def after_update_firmware(
        self, location: str, retrieve_date: str, retries: int | None = None, retry_interval: int | None = None,
        **_: Any,
    ) -> None:  # fmt: skip
        request = PlainRequest.from_ocpp(location, retrieve_date, retries, retry_interval)
        await self.app.firmware.start_plain(request, self.app.firmware_status_report)

    @on(Action.get_diagnostics)
    async def on_get_diagnostics(
        self, location: str, retries: int | None = None, retry_interval: int | None = None,
        start_time: str | None = None, stop_time: str | None = None, **_: Any,
    ) -> call_result.GetDiagnostics:  # fmt: skip
        request = DiagnosticsRequest.from_ocpp(location, retries, retry_interval, start_time, stop_time)
        name = await self.app.logs.start_diagnostics(request, self.app.diagnostics_status_report)
        return call_result.GetDiagnostics(file_name=name)

    # --- security whitepaper ----------------------------------------------------------------
    @on(Action.signed_update_firmware)
    async def on_signed_update_firmware(
        self, request_id: int, firmware: dict[str, str], retries: int | None = None,
        retry_interval: int | None = None, **_: Any,
    ) -> call_result.SignedUpdateFirmware:  # fmt: skip
        request = SignedRequest.from_ocpp(request_id, firmware, retries, retry_interval)
        status = await self.app.firmware.start_signed(request, self.app.signed_firmware_status_report)
        return call_result.SignedUpdateFirmware(status=status)

    @on(Action.get_log)
    async def on_get_log(
        self, log: dict[str, str], log_type: str, request_id: int, retries: int | None = None,
        retry_interval: int | None = None, **_: Any,
    ) -> call_result.GetLog:  # fmt: skip
        request = LogRequest.from_ocpp(log, log_type, request_id, retries, retry_interval)
        status, name = await self.app.logs.start_log(request, self.app.log_status_report)
        return call_result.GetLog(status=status, filename=name)

    @on(Action.install_certificate)
    def on_install_certificate(
        self, certificate_type: str, certificate: str, **_: Any
    ) -> call_result.InstallCertificate:
        outcome = self.app.certificates.install(
            certificate_type, certificate, max_length=self.app.keys.integer("CertificateStoreMaxLength")
        )
        if outcome.security_event:
            self.app.security_event(outcome.security_event, f"InstallCertificate {certificate_type}")
        return call_result.InstallCertificate(status=outcome.status)

    @on(Action.delete_certificate)
    def on_delete_certificate(self, certificate_hash_data: dict[str, str], **_: Any) -> call_result.DeleteCertificate:
        status = self.app.certificates.delete(
            certificate_hash_data, security_profile=self.app.keys.integer("SecurityProfile")
        )
        return call_result.DeleteCertificate(status=status)

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(
        self, certificate_type: str, **_: Any
    ) -> call_result.GetInstalledCertificateIds:
        status, found = self.app.certificates.installed_ids(certificate_type)
        hashes = [dataclasses.asdict(h) for h in found] or None
        return call_result.GetInstalledCertificateIds(status=status, certificate_hash_data=hashes)

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain: str, **_: Any) -> call_result.CertificateSigned:
        outcome = self.app.certificates.certificate_signed(
            certificate_chain, max_chain_size=self.app.keys.integer("CertificateSignedMaxChainSize")
        )
        if outcome.security_event:
            self.app.security_event(outcome.security_event, "CertificateSigned")
        return call_result.CertificateSigned(status=outcome.status)

    @after(Action.certificate_signed)
    def after_certificate_signed(self, **_: Any) -> None:
        if self.app.keys.integer("SecurityProfile") == 3 and self.app.certificates.has_charge_point_certificate():
            self.app.request_reconnect()  # profile 3: present the new certificate

    async def sign_certificate(self) -> None:
        """ExtendedTriggerMessage(SignChargePointCertificate): a CSR for a new certificate."""
        identity = self.app.link.charge_point_id  # what it connects as: SetConnection's, else the config's
        try:
            csr = self.app.certificates.make_csr(identity, self.app.keys.text("CpoName") or "EVNET")
        except InvalidCertificate as exc:
            log.error("cannot make a certificate signing request: %s", exc)
            return
        await self.call(call.SignCertificate(csr=csr), suppress=False)

    async def send_file_status(self, message: str) -> None:
        """Triggered status of the file transfers: the running one's, else Idle (§4.4, §4.5)."""
        app = self.app
        if message == "FirmwareStatusNotification":
            await self.call(call.FirmwareStatusNotification(status=app.firmware.status), suppress=False)
        elif message == "DiagnosticsStatusNotification":
            await self.call(call.DiagnosticsStatusNotification(status=app.logs.diagnostics_status), suppress=False)
        elif message == "LogStatusNotification":
            request_id = app.logs.log_request_id
            await self.call(call.LogStatusNotification(status=app.logs.log_status, request_id=request_id),
                            suppress=False)  # fmt: skip
        elif message == "SignChargePointCertificate":
            await self.sign_certificate()
