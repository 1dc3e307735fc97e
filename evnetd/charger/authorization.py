"""Who may charge: free (plug and charge), cards in the token list (rfid), only an app or
remote start (app), or the CSMS (ocpp). A remote start (``StartSession``) is authorised in
every mode: whoever may call the method may start a session.

The OCPP service is asked over the bus when the mode is ``ocpp``; when it is not running
the charger must still work (it never needs OCPP to charge), so the offline rule applies:
tokens in the local list are accepted, unknown ones only when the installer allowed it.

The CSMS's answer carries the tag's parent id tag (OCPP IdTagInfo.parentIdTag, "" when it
has none): a reservation may be used by any tag of the same parent (OCTT TC_053).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

FREE_TAG = "FREE"  # the id tag recorded for plug-and-charge sessions
REMOTE_TAG = "REMOTE"
MODES = ("free", "rfid", "app", "ocpp")


class AuthSource(enum.Enum):
    FREE = "free"
    LOCAL = "local"  # the charger's token list
    APP = "app"  # app mode: cards are not a way to start
    OCPP = "ocpp"
    OFFLINE = "offline"
    REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class AuthResult:
    accepted: bool
    id_tag: str
    source: AuthSource
    reason: str  # in words, for the journal and evnetctl
    parent_id_tag: str = ""  # from the CSMS; "" when none or not asked


class OcppUnavailable(Exception):
    """The OCPP service is not on the bus or has no link to the CSMS."""


AskOcpp = Callable[[str], Awaitable[tuple[bool, str]]]
"""Ask the CSMS about a tag: (accepted, parent id tag or "")."""


def normalise_tag(tag: str) -> str:
    """Card UIDs arrive in any case; OCPP idTags are compared as upper-case hex."""
    return tag.strip().upper()


class Authorizer:
    """``mode`` and ``local_tokens`` may change at any time (the owner's settings): each card
    is judged by the values of the moment it is presented."""

    def __init__(
        self, mode: str, local_tokens: Iterable[str], ask_ocpp: AskOcpp, allow_offline_unknown: bool = False
    ) -> None:
        self.mode = mode
        self.local_tokens = local_tokens
        self._ask_ocpp = ask_ocpp
        self._allow_offline_unknown = allow_offline_unknown

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"auth mode {mode!r}: must be one of {', '.join(MODES)}")
        self._mode = mode

    @property
    def local_tokens(self) -> frozenset[str]:
        return self._local_tokens

    @local_tokens.setter
    def local_tokens(self, tokens: Iterable[str]) -> None:
        self._local_tokens = frozenset(normalise_tag(t) for t in tokens)

    @property
    def plug_and_charge(self) -> bool:
        return self.mode == "free"

    async def authorize(self, tag: str) -> AuthResult:
        tag = normalise_tag(tag)
        if self.mode == "free":
            return AuthResult(True, tag, AuthSource.FREE, "free charging")  # any card works
        if self.mode == "rfid":
            known = tag in self.local_tokens
            return AuthResult(known, tag, AuthSource.LOCAL, "in the token list" if known else "unknown card")
        if self.mode == "app":
            return AuthResult(False, tag, AuthSource.APP, "app mode: only a start from the app or web client")
        try:
            accepted, parent = await self._ask_ocpp(tag)
        except OcppUnavailable as exc:
            if tag in self.local_tokens:
                return AuthResult(True, tag, AuthSource.OFFLINE, f"offline ({exc}), in the token list")
            if self._allow_offline_unknown:
                return AuthResult(True, tag, AuthSource.OFFLINE, f"offline ({exc}), unknown cards allowed")
            return AuthResult(False, tag, AuthSource.OFFLINE, f"offline ({exc}), unknown card")
        reason = "accepted by the CSMS" if accepted else "rejected by the CSMS"
        return AuthResult(accepted, tag, AuthSource.OCPP, reason, normalise_tag(parent))

    @staticmethod
    def free() -> AuthResult:
        """Plug and charge: the session is recorded under FREE_TAG."""
        return AuthResult(True, FREE_TAG, AuthSource.FREE, "free charging")

    @staticmethod
    def remote(tag: str) -> AuthResult:
        """An operator/app start: authorised by whoever could call the method."""
        return AuthResult(True, normalise_tag(tag) or REMOTE_TAG, AuthSource.REMOTE, "remote start")
