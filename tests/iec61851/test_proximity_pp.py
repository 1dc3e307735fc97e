"""PP decoding: bands, the lower rating between bands, open, invalid, tethered."""

from __future__ import annotations

import math

import pytest

from evnetd.iec61851.proximity import Plug, Proximity, ProximityDecoder, decode_pp


@pytest.mark.parametrize(
    ("ohms", "plug", "rating"),
    [
        (0.0, Plug.INVALID, None),
        (74.9, Plug.INVALID, None),
        (75.0, Plug.PRESENT, 63),
        (100.0, Plug.PRESENT, 63),
        (140.0, Plug.PRESENT, 63),
        (141.0, Plug.PRESENT, 32),  # gap 140–164 Ω: the lower rating
        (164.0, Plug.PRESENT, 32),
        (220.0, Plug.PRESENT, 32),
        (308.0, Plug.PRESENT, 32),
        (309.0, Plug.PRESENT, 20),  # gap 308–400 Ω
        (680.0, Plug.PRESENT, 20),
        (936.0, Plug.PRESENT, 20),
        (937.0, Plug.PRESENT, 13),  # gap 936–1100 Ω
        (1500.0, Plug.PRESENT, 13),
        (2460.0, Plug.PRESENT, 13),
        (4499.0, Plug.PRESENT, 13),  # above the 13 A band, not yet open: safest rating
        (4500.0, Plug.ABSENT, None),
        (1.0e6, Plug.ABSENT, None),
        (math.inf, Plug.ABSENT, None),
        (math.nan, Plug.INVALID, None),
    ],
)
def test_decode_pp(ohms: float, plug: Plug, rating: int | None) -> None:
    assert decode_pp(ohms) == Proximity(plug, rating)


def test_socketed_decoder_reads_the_resistor() -> None:
    decoder = ProximityDecoder()
    assert not decoder.tethered
    assert decoder.decode(680.0) == Proximity(Plug.PRESENT, 20)


@pytest.mark.parametrize("ohms", [math.inf, 10.0, 220.0])
def test_tethered_decoder_ignores_pp(ohms: float) -> None:
    decoder = ProximityDecoder(tethered_rating_a=32)
    assert decoder.tethered
    assert decoder.decode(ohms) == Proximity(Plug.PRESENT, 32)


@pytest.mark.parametrize("rating", [5, 81])
def test_tethered_rating_must_be_signallable(rating: int) -> None:
    with pytest.raises(ValueError, match="tethered"):
        ProximityDecoder(tethered_rating_a=rating)


@pytest.mark.parametrize(("plug", "rating"), [(Plug.PRESENT, None), (Plug.ABSENT, 32), (Plug.INVALID, 13)])
def test_rating_is_set_exactly_when_a_cable_is_present(plug: Plug, rating: int | None) -> None:
    with pytest.raises(ValueError):
        Proximity(plug, rating)
