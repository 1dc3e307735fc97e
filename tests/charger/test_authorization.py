"""Authorisation modes, and the offline rule when the OCPP service cannot answer."""

from __future__ import annotations

import pytest

from evnetd.charger.authorization import Authorizer, AuthSource, OcppUnavailable


async def accept(tag: str) -> tuple[bool, str]:
    return tag == "AA", ""


async def offline(tag: str) -> tuple[bool, str]:
    raise OcppUnavailable("no OCPP link")


async def with_parent(tag: str) -> tuple[bool, str]:
    return True, "fleet-7"


@pytest.mark.parametrize(
    ("mode", "ask", "tag", "accepted", "source"),
    [
        ("free", accept, "zz", True, AuthSource.FREE),
        ("rfid", accept, "04a1b2c3", True, AuthSource.LOCAL),
        ("rfid", accept, "DEADBEEF", False, AuthSource.LOCAL),
        ("app", accept, "04A1B2C3", False, AuthSource.APP),  # cards do not start sessions, known or not
        ("app", offline, "AA", False, AuthSource.APP),
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


@pytest.mark.parametrize("mode", ["card", "local", ""])
def test_unknown_mode_is_refused(mode: str) -> None:
    with pytest.raises(ValueError, match=f"auth mode {mode!r}: must be one of free, rfid, app, ocpp"):
        Authorizer(mode, [], accept)
    authorizer = Authorizer("free", [], accept)
    with pytest.raises(ValueError):
        authorizer.mode = mode
    assert authorizer.mode == "free"


async def test_mode_and_tokens_change_at_runtime() -> None:
    authorizer = Authorizer("free", [], accept)
    authorizer.mode = "rfid"
    assert not (await authorizer.authorize("04a1b2c3")).accepted
    authorizer.local_tokens = ["04a1b2c3"]
    assert (await authorizer.authorize("04A1B2C3")).accepted


async def test_the_csms_parent_id_tag_is_kept() -> None:
    result = await Authorizer("ocpp", [], with_parent).authorize("cc")
    assert result.accepted and result.parent_id_tag == "FLEET-7"


async def test_no_parent_from_the_local_list_or_offline() -> None:
    local = await Authorizer("rfid", ["04A1B2C3"], with_parent).authorize("04a1b2c3")
    unknown_offline = await Authorizer("ocpp", ["04A1B2C3"], offline).authorize("04A1B2C3")
    assert local.parent_id_tag == "" and unknown_offline.parent_id_tag == ""
