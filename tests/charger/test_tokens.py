"""The token list: UIDs in one spelling, add/relabel/remove with named rules; learning by the clock."""

from __future__ import annotations

import re

import pytest

from evnetd.charger.tokens import MAX_TOKENS, TokenLearning, TokenList, normalise_uid
from evnetd.runtime.settings import SettingError


@pytest.mark.parametrize(
    ("text", "uid"),
    [
        ("04a1b2c3", "04A1B2C3"),
        (" 04:A1:b2:c3 ", "04A1B2C3"),
        ("04 a1 b2 c3 d4 e5 f6", "04A1B2C3D4E5F6"),
        ("04-11-22-33-44-55-66-77-88-99", "04112233445566778899"),
    ],
)
def test_uids_are_normalised(text: str, uid: str) -> None:
    assert normalise_uid(text) == uid


@pytest.mark.parametrize(
    "text", ["", "04A1B2", "04A1B2C3D4", "04A1B2C3D4E5F60708", "0BADCAFG", "04A1B2C3 ok", "0x04A1B2C3"]
)
def test_other_lengths_and_non_hex_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{text!r}: must be a card UID of 4, 7 or 10 bytes in hex")):
        normalise_uid(text)


def test_add_relabel_remove() -> None:
    tokens = TokenList.from_uids(["0badcafe", "0BADCAFE"])  # one entry per UID
    assert tokens.entries == (("0BADCAFE", ""),)
    tokens = tokens.add("04:a1:b2:c3", "Anna")
    assert tokens.entries == (("0BADCAFE", ""), ("04A1B2C3", "Anna"))
    tokens = tokens.add("0badcafe", "Ben")  # a known UID: relabelled in place
    assert tokens.entries == (("0BADCAFE", "Ben"), ("04A1B2C3", "Anna"))
    tokens = tokens.remove("0BADCAFE")
    assert tokens.uids == ["04A1B2C3"]
    assert TokenList.from_json(tokens.to_json()) == tokens


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.add("zz", ""), "uid: 'zz': must be a card UID of 4, 7 or 10 bytes in hex"),
        (lambda t: t.add("04A1B2C3", "x" * 41), "label: 'xxx"),
        (lambda t: t.add("04A1B2C3", "tab\there"), "label: 'tab\\there': must be at most 40 printable characters"),
        (lambda t: t.remove("0BADCAFE"), "uid: '0BADCAFE': not in the token list"),
        (lambda t: t.remove("nope"), "uid: 'nope': must be a card UID"),
    ],
)
def test_refusals_name_field_value_and_rule(change, message: str) -> None:  # type: ignore[no-untyped-def]
    tokens = TokenList.from_uids(["04A1B2C3"])
    with pytest.raises(SettingError) as caught:
        change(tokens)
    assert str(caught.value).startswith(message)


def test_the_list_is_bounded() -> None:
    full = TokenList(tuple((f"{n:08X}", "") for n in range(MAX_TOKENS)))
    with pytest.raises(SettingError, match="the list is full"):
        full.add("FFFFFFFF", "")
    assert full.add("00000001", "relabel").entries[1] == ("00000001", "relabel")  # relabelling still works


def test_learning_lasts_until_its_deadline() -> None:
    learning = TokenLearning()
    assert not learning.active(0.0) and not learning.expire(0.0)
    learning.start(100.0, 30.0)
    assert learning.active(129.9) and not learning.expire(129.9)
    assert not learning.active(130.0)
    assert learning.expire(130.0) and not learning.expire(131.0)  # reported once


def test_learning_ends_with_a_card_or_a_zero_timeout() -> None:
    learning = TokenLearning()
    learning.start(0.0, 60.0)
    learning.stop()
    assert not learning.active(1.0) and not learning.expire(100.0)  # a learned card is no timeout
    learning.start(0.0, 60.0)
    learning.start(1.0, 0.0)
    assert not learning.active(1.0)


@pytest.mark.parametrize("timeout", [-1.0, 600.5, float("nan"), float("inf")])
def test_learning_timeouts_are_bounded(timeout: float) -> None:
    learning = TokenLearning()
    learning.start(0.0, 60.0)
    with pytest.raises(SettingError, match=r"timeout_s: .*: must be 0 \(stop learning\) to 600 s"):
        learning.start(1.0, timeout)
    assert learning.active(1.0)  # a refused request changes nothing
