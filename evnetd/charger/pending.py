"""An authorisation given before the plug, and the status the connector shows around it.

A card, a token or a remote start with no EV connected is kept until the EV comes, but
not for ever: OCPP's ConnectionTimeOut bounds the wait (OCTT TC_004_2, TC_011_2); after
it the authorisation is dropped and the connector is Available again (errata 3.87).
While it waits the connector is Preparing — the charge-control core only sees the pilot
and would say Available — and a reservation shows as Reserved over an idle connector.
Both overlays live here, outside the IEC 61851 core, because they are OCPP facts.

Pure: the owner feeds the monotonic time.
"""

from __future__ import annotations

from evnetd.charger.authorization import AuthResult
from evnetd.iec61851.status import ConnectorStatus

DEFAULT_CONNECTION_TIMEOUT_S = 60
MIN_CONNECTION_TIMEOUT_S = 1
MAX_CONNECTION_TIMEOUT_S = 3600


class PendingStart:
    """At most one authorisation waiting for the plug."""

    def __init__(self, timeout_s: float = DEFAULT_CONNECTION_TIMEOUT_S) -> None:
        self.timeout_s = check_timeout(timeout_s)
        self.auth: AuthResult | None = None
        self._since = 0.0

    def hold(self, auth: AuthResult, now: float) -> None:
        """Keep ``auth`` (replacing one already waiting) from ``now``."""
        self.auth, self._since = auth, now

    def take(self) -> AuthResult | None:
        """The EV came (or the wait was cancelled): hand over the authorisation."""
        auth, self.auth = self.auth, None
        return auth

    def expire(self, now: float) -> AuthResult | None:
        """The authorisation that timed out at ``now``, if any.

        A shorter timeout set while one waits applies to it at once: the CSMS means "no
        longer than this from now on".
        """
        deadline = self.deadline
        if deadline is None or now < deadline:
            return None
        return self.take()

    @property
    def deadline(self) -> float | None:
        return None if self.auth is None else self._since + self.timeout_s


def check_timeout(seconds: float) -> float:
    if not MIN_CONNECTION_TIMEOUT_S <= seconds <= MAX_CONNECTION_TIMEOUT_S:
        raise ValueError(
            f"connection timeout {seconds:g} s: must be {MIN_CONNECTION_TIMEOUT_S}–{MAX_CONNECTION_TIMEOUT_S} s"
        )
    return float(seconds)


def connector_status(core: ConnectorStatus, *, waiting_for_plug: bool, reserved: bool) -> str:
    """The OCPP status to publish: the core's, with the two overlays.

    Only the idle statuses are overlaid: Available (no EV) and Preparing (an EV without a
    session; a reservation cannot be made with an EV connected, but an EV may be plugged
    in while one holds, and the connector stays reserved until the right tag comes).
    Faulted, Unavailable and every status of a session are shown as they are.
    """
    if core is ConnectorStatus.AVAILABLE and waiting_for_plug:
        return ConnectorStatus.PREPARING.value
    if core in (ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING) and reserved and not waiting_for_plug:
        return "Reserved"
    return core.value
