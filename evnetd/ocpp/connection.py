"""Opening the OCPP-J websocket: URL, subprotocol, security profile, reconnect back-off.

The library (`ocpp`) never opens a socket and has no reconnect; this module does both
halves that touch the network but no protocol: how to reach the CSMS and how long to
wait before trying again. Back-off doubles from ``min_s`` to ``max_s`` with full jitter,
so a fleet of chargers coming back after a CSMS outage does not reconnect in lock-step.
"""

from __future__ import annotations

import base64
import random
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

import websockets

SUBPROTOCOL = "ocpp1.6"


class ConnectError(Exception):
    """The CSMS could not be reached or refused the websocket."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str  # the CSMS endpoint without the charge point id
    charge_point_id: str
    security_profile: int = 0  # 0 none, 1 basic auth, 2 TLS + basic auth, 3 TLS client certificate
    authorization_key: str = ""  # basic-auth password (profiles 1 and 2), used as configured

    @property
    def address(self) -> str:
        """OCPP-J §3.1.1: the endpoint URL, "/", the percent-encoded charge point id."""
        return self.url.rstrip("/") + "/" + urllib.parse.quote(self.charge_point_id, safe="")

    def headers(self) -> dict[str, str]:
        if self.security_profile not in (1, 2) or not self.authorization_key:
            return {}
        token = base64.b64encode(f"{self.charge_point_id}:{self.authorization_key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


async def open_websocket(
    endpoint: Endpoint, ssl_context: ssl.SSLContext | None, ping_interval_s: float, open_timeout_s: float = 10.0
) -> Any:
    """Connect and check that the CSMS agreed to speak OCPP 1.6."""
    if endpoint.security_profile >= 2 and not endpoint.address.startswith("wss://"):
        raise ConnectError(f"security profile {endpoint.security_profile} needs a wss:// URL")
    try:
        ws = await websockets.connect(
            endpoint.address,
            subprotocols=[websockets.Subprotocol(SUBPROTOCOL)],
            additional_headers=endpoint.headers(),
            ssl=ssl_context if endpoint.address.startswith("wss://") else None,
            ping_interval=ping_interval_s if ping_interval_s > 0 else None,
            ping_timeout=max(ping_interval_s, 10.0) if ping_interval_s > 0 else None,
            open_timeout=open_timeout_s,
            compression=None,  # small CPU, small frames: deflate costs more than it saves
            proxy=None,  # an environment proxy must not silently reroute the charger
            max_size=2**22,
        )
    except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
        raise ConnectError(f"{endpoint.address}: {exc}") from exc
    if ws.subprotocol != SUBPROTOCOL:
        await ws.close()
        raise ConnectError(f"{endpoint.address}: the CSMS did not accept subprotocol {SUBPROTOCOL}")
    return ws


class Backoff:
    """Delays before reconnect attempts: doubling, capped, with full jitter."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self._rng = rng or random.Random()
        self._failures = 0

    def next(self) -> float:
        ceiling = min(self.max_s, self.min_s * 2**self._failures)
        self._failures += 1
        return self.min_s / 2 + self._rng.uniform(0, ceiling - self.min_s / 2)

    def reset(self) -> None:
        self._failures = 0
