"""The charger's own RFID token list, and learning "the next card presented".

Cards are ISO 14443A tags: their UIDs are 4, 7 or 10 bytes. Owners copy them from a
phone app or a card label in any spelling (``04:a1:b2:c3``, ``04 A1 B2 C3``), so a UID is
normalised to plain upper-case hex before it is compared or stored; the reader gives the
same spelling. The config's ``local_tokens`` is the list at first start; once the owner
changes it (web client, app, evnetctl) the stored list is the one that counts.

Learning is what the web client's "learn the next card" button does: for a while, the
next card presented is added to the list instead of being authorised, so an owner need
not read a UID off a card. It ends with that card or at its deadline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from evnetd.runtime.settings import SettingError

UID_BYTES = (4, 7, 10)
MAX_TOKENS = 500  # a home charger's list; keeps the Tokens property a reasonable bus message
LABEL_MAX = 40
LEARN_MAX_S = 600.0
UID_RULE = "must be a card UID of 4, 7 or 10 bytes in hex"
_SEPARATORS = str.maketrans("", "", ": -")


def normalise_uid(text: str) -> str:
    """Upper-case hex without separators; ValueError naming the value and the rule."""
    uid = text.strip().translate(_SEPARATORS).upper()
    if len(uid) not in (2 * n for n in UID_BYTES) or any(c not in "0123456789ABCDEF" for c in uid):
        raise ValueError(f"{text!r}: {UID_RULE}")
    return uid


def _uid(text: str) -> str:
    try:
        return normalise_uid(text)
    except ValueError:
        raise SettingError("uid", text, UID_RULE) from None


@dataclass(frozen=True, slots=True)
class TokenList:
    """(uid, label) pairs in the order they were added; a UID appears once."""

    entries: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_uids(cls, uids: Iterable[str]) -> TokenList:
        """The config's list (already checked by the config loader): no labels."""
        return cls(tuple(dict.fromkeys((normalise_uid(uid), "") for uid in uids)))

    @property
    def uids(self) -> list[str]:
        return [uid for uid, _ in self.entries]

    def add(self, uid: str, label: str) -> TokenList:
        """Added at the end, or the label of a known UID replaced; SettingError naming the rule."""
        uid = _uid(uid)
        if not (len(label) <= LABEL_MAX and label.isprintable()):
            raise SettingError("label", label, f"must be at most {LABEL_MAX} printable characters")
        if uid in self.uids:
            return TokenList(tuple((u, label if u == uid else old) for u, old in self.entries))
        if len(self.entries) >= MAX_TOKENS:
            raise SettingError("uid", uid, f"the list is full ({MAX_TOKENS} cards): remove one first")
        return TokenList((*self.entries, (uid, label)))

    def remove(self, uid: str) -> TokenList:
        uid = _uid(uid)
        if uid not in self.uids:
            raise SettingError("uid", uid, "not in the token list")
        return TokenList(tuple(entry for entry in self.entries if entry[0] != uid))

    def to_json(self) -> str:
        return json.dumps([list(entry) for entry in self.entries])

    @classmethod
    def from_json(cls, text: str) -> TokenList:
        return cls(tuple((str(uid), str(label)) for uid, label in json.loads(text)))


def check_learn_timeout(seconds: float) -> float:
    """LearnToken's timeout: up to 10 minutes; 0 ends learning at once."""
    if not (math.isfinite(seconds) and 0 <= seconds <= LEARN_MAX_S):
        raise SettingError("timeout_s", seconds, f"must be 0 (stop learning) to {LEARN_MAX_S:g} s")
    return seconds


class TokenLearning:
    """Whether the next card is to be learned, until a monotonic deadline."""

    def __init__(self) -> None:
        self.until: float | None = None

    def start(self, now: float, timeout_s: float) -> None:
        check_learn_timeout(timeout_s)
        self.until = now + timeout_s if timeout_s > 0 else None

    def active(self, now: float) -> bool:
        return self.until is not None and now < self.until

    def stop(self) -> None:
        self.until = None

    def expire(self, now: float) -> bool:
        """True once, at the first call after the deadline passed unused."""
        if self.until is not None and now >= self.until:
            self.until = None
            return True
        return False
