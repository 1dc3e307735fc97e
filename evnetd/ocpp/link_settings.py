"""Where the OCPP service connects, as whom: set at runtime, kept over the config file.

An installer or owner points the charger at a CSMS from the web client or the app
(``Ocpp1.SetConnection``) without editing ``/etc/evnet/evnet.toml``: the pair is checked
here, stored in the service's own state and, once stored, wins over the config file's
``ocpp.url`` and ``general.charge_point_id`` at every start. An empty URL means offline.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from evnetd.charger.settings import SettingsStore
from evnetd.runtime.settings import SettingError

CHARGE_POINT_ID = re.compile(r"[A-Za-z0-9._-]{1,48}")  # the config's rule for general.charge_point_id
URL_MAX = 512


@dataclass(frozen=True, slots=True)
class LinkSettings:
    url: str  # ws:// or wss:// endpoint without the charge point id; "" = offline
    charge_point_id: str


def check_link(url: str, charge_point_id: str, security_profile: int) -> LinkSettings:
    """The pair as given, or SettingError naming the field, the value and the rule.

    Profiles 2 and 3 talk TLS only: a ws:// URL there could never connect, so it is
    refused here rather than retried forever.
    """
    if url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname or len(url) > URL_MAX:
            raise SettingError("url", url, f"must be empty (offline) or a ws:// or wss:// URL with a host, "
                                           f"at most {URL_MAX} characters")  # fmt: skip
        if parts.query or parts.fragment:
            raise SettingError("url", url, "must have no query or fragment (the charge point id is appended)")
        if security_profile >= 2 and parts.scheme != "wss":
            raise SettingError("url", url, f"must be wss:// with security profile {security_profile}")
    if not CHARGE_POINT_ID.fullmatch(charge_point_id):
        raise SettingError("charge_point_id", charge_point_id, "must be 1 to 48 of A-Z a-z 0-9 . _ -")
    return LinkSettings(url, charge_point_id)


class LinkStore:
    """The stored pair (both or neither) in the OCPP service's state directory."""

    def __init__(self, path: Path) -> None:
        self._store = SettingsStore(path)

    def load(self, configured: LinkSettings) -> LinkSettings:
        """The stored pair, else the config file's."""
        charge_point_id = self._store.get("charge_point_id", "")
        if not charge_point_id:
            return configured
        return LinkSettings(self._store.get("url", ""), charge_point_id)

    def save(self, link: LinkSettings) -> None:
        self._store.set_many({"url": link.url, "charge_point_id": link.charge_point_id})

    def close(self) -> None:
        self._store.close()
