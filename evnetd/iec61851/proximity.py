"""Proximity pilot (PP) decoding: which cable is in the Type 2 socket, and what it carries.

The cable's Rc resistor (PP to PE) codes its current rating. The bands are the widest
public test bands (EVerest bring-up doc: min/max per rating, which already include the
resistor's ±3 % and measurement error). Between two bands the lower rating wins, as
EVerest advises: a reading we cannot place must never let more current through a thin
cable. Above the 13 A band and below "open" is also read as 13 A, the safest rating
(SmartEVSE falls back the same way). Below 75 Ω (Phoenix Contact's error limit) the PP
line is shorted or broken: invalid.

A tethered charger has no socket and no Rc to read: its cable rating is configuration.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

INVALID_BELOW_OHMS = 75.0
OPEN_FROM_OHMS = 4500.0  # EVerest: above 4.5 kΩ nothing is plugged in

# Upper edge of each rating's band (EVerest test bands: 63 A 80–140 Ω, 32 A 164–308 Ω,
# 20 A 400–936 Ω, 13 A 1100–2460 Ω). A reading in a gap belongs to the next band up in
# resistance, i.e. the lower rating.
_BAND_MAX_OHMS = ((140.0, 63), (308.0, 32), (936.0, 20))


class Plug(enum.Enum):
    """Whether a cable is in the socket (Type 2 ratings: 13, 20, 32, 63 A)."""

    ABSENT = "absent"  # PP open: no cable in the socket
    PRESENT = "present"
    INVALID = "invalid"  # PP shorted (below 75 Ω) or unreadable


@dataclass(frozen=True, slots=True)
class Proximity:
    """What the PP line says; ``rating_a`` is set exactly when a cable is present."""

    plug: Plug
    rating_a: int | None = None

    def __post_init__(self) -> None:
        if (self.plug is Plug.PRESENT) != (self.rating_a is not None):
            raise ValueError(f"{self.plug.value} cable with rating {self.rating_a}")


def decode_pp(ohms: float) -> Proximity:
    """Classify one PP–PE resistance reading (``math.inf`` for an open line)."""
    if math.isnan(ohms) or ohms < INVALID_BELOW_OHMS:
        return Proximity(Plug.INVALID)
    if ohms >= OPEN_FROM_OHMS:
        return Proximity(Plug.ABSENT)
    for band_max, rating in _BAND_MAX_OHMS:
        if ohms <= band_max:
            return Proximity(Plug.PRESENT, rating)
    return Proximity(Plug.PRESENT, 13)


class ProximityDecoder:
    """PP decoding for one connector: socketed (read Rc) or tethered (configured rating)."""

    def __init__(self, tethered_rating_a: int | None = None) -> None:
        if tethered_rating_a is not None and not 6 <= tethered_rating_a <= 80:
            # Any rating a pilot can signal: tethered cables need not follow the Rc codes.
            raise ValueError(f"tethered cable rating {tethered_rating_a} A: must be 6–80 A")
        self._tethered = tethered_rating_a

    @property
    def tethered(self) -> bool:
        return self._tethered is not None

    def decode(self, ohms: float) -> Proximity:
        """The cable for this reading; a tethered cable ignores the reading."""
        if self._tethered is not None:
            return Proximity(Plug.PRESENT, self._tethered)
        return decode_pp(ohms)
