"""``org.evnet.Ocpp1``: the link to the CSMS as others on the bus see it.

The charger asks it to authorise cards; evnetctl reads the link state and the queue, and
reads or sets OCPP configuration keys locally (an installer without a CSMS at hand); the web
client sets where it connects and installs root certificates.
"""

from __future__ import annotations

from typing import Any, Protocol

from evnetd.bus.names import OCPP
from evnetd.bus.service import PublishedInterface, bus_method

INITIAL: dict[str, Any] = {
    "Connected": False, "PasswordSet": False, "Registration": "", "QueueLength": 0, "Url": "", "ChargePointId": "",
    "LastError": "",
}  # fmt: skip


class OcppActions(Protocol):
    async def authorize(self, id_tag: str) -> tuple[bool, str]: ...

    def get_configuration(self, keys: list[str]) -> list[list[Any]]: ...

    def change_configuration(self, key: str, value: str) -> str: ...

    def set_connection(self, url: str, charge_point_id: str) -> None: ...

    def install_certificate(self, certificate_type: str, pem: str) -> str: ...


class OcppInterface(PublishedInterface):
    """``Registration``: the last BootNotification answer (Accepted, Pending, Rejected; empty: none yet).
    ``PasswordSet``: whether a Basic-auth password (AuthorizationKey) is set; the key itself is never read back."""

    PROPERTIES = {
        "Connected": "b", "PasswordSet": "b", "Registration": "s", "QueueLength": "u", "Url": "s",
        "ChargePointId": "s", "LastError": "s",
    }  # fmt: skip

    def __init__(self, actions: OcppActions) -> None:
        self.actions = actions
        super().__init__(OCPP.interface, INITIAL)

    @bus_method("s", returns="(bs)")
    async def Authorize(self, id_tag: str) -> list[Any]:
        """(accepted, parentIdTag): local list, cache, the CSMS, or the offline rules."""
        accepted, parent = await self.actions.authorize(id_tag)
        return [accepted, parent]

    @bus_method("as", returns="a(sbs)")
    def GetConfiguration(self, keys: list[str]) -> list[list[Any]]:
        """(key, read-only, value) for ``keys`` (all when empty); write-only keys have an empty value."""
        return self.actions.get_configuration(keys)

    @bus_method("s", "s", returns="s")
    def ChangeConfiguration(self, key: str, value: str) -> str:
        """As a CSMS would: Accepted, Rejected, RebootRequired or NotSupported."""
        return self.actions.change_configuration(key, value)

    @bus_method("s", "s")
    def SetConnection(self, url: str, charge_point_id: str) -> None:
        """The CSMS endpoint (ws:// or wss://, without the id; empty: offline) and our id
        (^[A-Za-z0-9._-]{1,48}$): kept over the config file, applied by reconnecting at once."""
        self.actions.set_connection(url, charge_point_id)

    @bus_method("s", "s", returns="s")
    def InstallCertificate(self, certificate_type: str, pem: str) -> str:
        """CentralSystemRootCertificate or ManufacturerRootCertificate; Accepted, Rejected or
        Failed as the OCPP message answers."""
        return self.actions.install_certificate(certificate_type, pem)
