"""Contactor supervision: the request we drive, the mirror contact, weld detection, wear.

The coil is REQUEST AND PERMIT in hardware, so the mirror contact must follow that
product, not the request alone, within ``MIRROR_FOLLOW_S`` (chargebyte's 250 ms). A
mirror that stays open is a contactor that does not close; a mirror that stays closed, or
voltage on the load side while the contactor should be open, is a welded contactor.

Load-side voltage comes from the metering service, whose measurements reach us at most
once a second; a reading taken just before the contactor opened may arrive up to ~1 s
later, so the voltage must persist ``WELD_CONFIRM_S`` with the contactor open before it
counts as a weld.

Closings are spaced ``MIN_CLOSE_INTERVAL_S`` apart for contact wear (chargebyte's
``min_close_interval``).
"""

from __future__ import annotations

import enum

MIRROR_FOLLOW_S = 0.25
WELD_CONFIRM_S = 2.0
MIN_CLOSE_INTERVAL_S = 10.0


class SwitchFailure(enum.Enum):
    """What went wrong with the power switch (both are PowerSwitchFailure in OCPP)."""

    NO_CLOSE = "no-close"  # coil energised, mirror stayed open
    WELD = "weld"  # mirror stayed closed, or load side live, with the coil off


class ContactorSupervisor:
    """Holds the request level and checks the contactor against it."""

    def __init__(self) -> None:
        self.requested = False
        self._last_close_at: float | None = None
        self._mismatch_since: float | None = None
        self._live_open_since: float | None = None

    def check(self, permit: bool, mirror_closed: bool, load_voltage: bool, now: float) -> SwitchFailure | None:
        """Compare the contactor with the coil we drive; a failure once its time is up."""
        coil = self.requested and permit
        if mirror_closed is coil:
            self._mismatch_since = None
        elif self._mismatch_since is None:
            self._mismatch_since = now
        if load_voltage and not coil:
            if self._live_open_since is None:
                self._live_open_since = now
        else:
            self._live_open_since = None
        if self._mismatch_since is not None and now >= self._mismatch_since + MIRROR_FOLLOW_S:
            return SwitchFailure.WELD if mirror_closed else SwitchFailure.NO_CLOSE
        if self._live_open_since is not None and now >= self._live_open_since + WELD_CONFIRM_S:
            return SwitchFailure.WELD
        return None

    def may_close(self, now: float) -> bool:
        """Whether a closing now keeps the minimum spacing from the previous one."""
        at = self.close_allowed_at()
        return at is None or now >= at

    def close_allowed_at(self) -> float | None:
        if self._last_close_at is None:
            return None
        return self._last_close_at + MIN_CLOSE_INTERVAL_S

    def command(self, close: bool, now: float) -> None:
        """Set the request; a change starts a fresh window for the mirror to follow."""
        if close is self.requested:
            return
        self.requested = close
        self._mismatch_since = now
        if close:
            self._last_close_at = now

    def deadline(self) -> float | None:
        """When a pending mismatch or live-load reading would become a failure."""
        times = []
        if self._mismatch_since is not None:
            times.append(self._mismatch_since + MIRROR_FOLLOW_S)
        if self._live_open_since is not None:
            times.append(self._live_open_since + WELD_CONFIRM_S)
        return min(times) if times else None
