"""Authorisation modes, and the offline rule when the OCPP service cannot answer."""

from __future__ import annotations

import pytest

from evnetd.charger.authorization import Authorizer, AuthSource, OcppUnavailable


async def accept(tag: str) -> bool:
    return tag == "AA"


async def offline(tag: str) -> bool:
    raise OcppUnavailable("no OCPP link")


@pytest.mark.parametrize(
    ("mode", "ask", "tag", "accepted", "source"),
    [
        ("free", accept, "zz", True, AuthSource.FREE),
        ("local", accept, "04a1b2c3", True, AuthSource.LOCAL),
        ("local", accept, "DEADBEEF", False, AuthSource.LOCAL),
        ("ocpp", accept, "aa", True, AuthSource.OCPP),
        ("ocpp", accept, "BB", False, AuthSource.OCPP),
        ("ocpp", offline, "04A1B2C3", True, AuthSource.OFFLINE),
        ("ocpp", offline, "DEADBEEF", False, AuthSource.OFFLINE),
    ],
)
async def test_modes(mode: str, ask, tag: str, accepted: bool, source: AuthSource) -> None:  # type: ignore[no-untyped-def]
    result = await Authorizer(mode, ["04A1B2C3"], ask).authorize(tag)
    assert (result.accepted, result.source) == (accepted, source)
    assert result.id_tag == tag.upper()


async def test_offline_unknown_cards_only_when_allowed() -> None:
    result = await Authorizer("ocpp", [], offline, allow_offline_unknown=True).authorize("DEADBEEF")
    assert result.accepted and result.source is AuthSource.OFFLINE


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="auth mode 'card'"):
        Authorizer("card", [], accept)
