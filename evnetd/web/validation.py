"""The rules for what a client sends, checked before anything is asked of a service.

A request is judged whole before the first D-Bus call, so a bad field rejects it without
changing anything, and the answer names the field and the rule (400). The services check
again (all or nothing); judging first keeps a request that takes several D-Bus calls (OCPP
connection, security profile, password) from being applied in part. The rules are the
services' own tables (charger settings and cards, energy settings, the OCPP link), so a
value gets the same verdict and message from the web as from D-Bus or the config file;
this module adds what only the web has: request bodies, query strings, API tokens, PIN.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbus_fast import Variant

from evnetd.charger import settings as charger_rules
from evnetd.charger import tokens as card_rules
from evnetd.energy import settings as energy_rules
from evnetd.ocpp.link_settings import check_link
from evnetd.runtime.settings import SettingError

CERTIFICATE_TYPES = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")
_PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
HIDDEN = "(hidden)"


class InputError(ValueError):
    """A request field breaks a rule; nothing was changed."""

    def __init__(self, field: str, value: Any, rule: str) -> None:
        super().__init__(f"{field}: {value!r}: {rule}")
        self.field, self.value, self.rule = field, value, rule


def _fields(body: Any, known: tuple[str, ...], *, at_least_one: bool = False) -> dict[str, Any]:
    """The body as a dict of known fields (an unknown one is an error, not ignored)."""
    if not isinstance(body, dict):
        raise InputError("body", body, "must be a JSON object")
    for name in body:
        if name not in known:
            raise InputError(name, body[name], f"unknown field (known: {', '.join(known)})")
    if at_least_one and not body:
        raise InputError("body", body, f"must name at least one of {', '.join(known)}")
    return body


def _text(field: str, value: Any, low: int, high: int, *, secret: bool = False) -> str:
    """Text of ``low``..``high`` printable characters; a ``secret`` is not repeated in the refusal."""
    shown = HIDDEN if secret else value
    if not isinstance(value, str):
        raise InputError(field, shown, "must be text")
    if not low <= len(value) <= high:
        raise InputError(field, shown, f"must be {low}–{high} characters")
    if not value.isprintable():
        raise InputError(field, shown, "must be printable characters only")
    return value


def _number(field: str, value: Any, low: float, high: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(field, value, "must be a number")
    if not low <= value <= high:
        raise InputError(field, value, f"must be {low:g}–{high:g} {unit}")
    return float(value)


def charger_settings(body: Any) -> dict[str, Variant]:
    """A change of the charger's settings as the a{sv} of ``Charger1.ChangeSettings``."""
    changes: dict[str, Variant] = {}
    for name, value in _fields(body, tuple(charger_rules.RULES), at_least_one=True).items():
        signature = charger_rules.SIGNATURES[name]
        given = float(value) if signature == "d" and type(value) is int else value  # JSON writes 16.0 as 16
        try:
            changes[name] = Variant(signature, charger_rules.RULES[name](given))
        except ValueError as exc:
            raise InputError(name, value, str(exc)) from None
    return changes


def energy_settings(body: Any) -> dict[str, Any]:
    """A change of the energy settings (typed as energy management's rules make them)."""
    changes = _fields(body, tuple(energy_rules.RULES), at_least_one=True)
    try:
        checked = energy_rules.validate(energy_rules.OwnerSettings(), changes)
    except SettingError as exc:
        raise InputError(exc.field, exc.value, exc.rule) from None
    values = {name: getattr(checked, name) for name in changes}
    return {name: list(value) if isinstance(value, tuple) else value for name, value in values.items()}


@dataclass(frozen=True, slots=True)
class OcppConnection:
    """What the OCPP settings are now (the rules depend on it)."""

    url: str
    charge_point_id: str
    security_profile: int
    password_set: bool | None  # None: the OCPP service does not say


@dataclass(frozen=True, slots=True)
class OcppChange:
    """A checked OCPP settings change; None: leave as it is."""

    url: str | None = None
    charge_point_id: str | None = None
    security_profile: int | None = None
    password: str | None = None


def ocpp_settings(body: Any, now: OcppConnection) -> OcppChange:
    """A change of the OCPP connection, checked as a whole with what it leaves as it is."""
    fields = _fields(body, ("url", "charge_point_id", "security_profile", "password"), at_least_one=True)
    for name in ("url", "charge_point_id"):
        if name in fields and not isinstance(fields[name], str):
            raise InputError(name, fields[name], "must be text")
    change = OcppChange(
        url=fields.get("url"),
        charge_point_id=fields.get("charge_point_id"),
        security_profile=_profile(fields["security_profile"], now.security_profile)
        if "security_profile" in fields else None,
        password=_text("password", fields["password"], 16, 40, secret=True) if "password" in fields else None,
    )  # fmt: skip
    profile = now.security_profile if change.security_profile is None else change.security_profile
    try:
        check_link(
            now.url if change.url is None else change.url,
            now.charge_point_id if change.charge_point_id is None else change.charge_point_id,
            profile,
        )
    except SettingError as exc:
        raise InputError(exc.field, exc.value, exc.rule) from None
    if profile in (1, 2) and now.password_set is False and not change.password:
        raise InputError("password", None, f"security profile {profile} needs a password")
    return change


def _profile(value: Any, current: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
        raise InputError("security_profile", value, "must be 0, 1, 2 or 3")
    if value < current:
        raise InputError("security_profile", value, f"can only be raised (now {current})")
    return value


def certificate(body: Any) -> tuple[str, str]:
    """(certificate type, PEM) of a certificate upload."""
    fields = _fields(body, ("certificate_type", "pem"))
    for name in ("certificate_type", "pem"):
        if name not in fields:
            raise InputError(name, None, "is required")
    kind = fields["certificate_type"]
    if kind not in CERTIFICATE_TYPES:
        raise InputError("certificate_type", kind, f"must be one of {', '.join(CERTIFICATE_TYPES)}")
    pem = fields["pem"]
    if not isinstance(pem, str) or len(pem) > 65536 or _PEM_CERTIFICATE not in pem:
        raise InputError("pem", HIDDEN, f"must be a PEM certificate ({_PEM_CERTIFICATE}), at most 64 KiB")
    return kind, pem


def rfid_uid(value: Any, field: str = "uid") -> str:
    """A card UID as the charger keeps it (upper-case hex; ``04:a1:b2:c3`` is accepted)."""
    try:
        return card_rules.normalise_uid(value if isinstance(value, str) else "")
    except ValueError:
        raise InputError(field, value, card_rules.UID_RULE) from None


def rfid_token(body: Any) -> tuple[str, str]:
    """(uid, label) of a card to add."""
    fields = _fields(body, ("uid", "label"))
    if "uid" not in fields:
        raise InputError("uid", None, "is required")
    return rfid_uid(fields["uid"]), _text("label", fields.get("label", ""), 0, card_rules.LABEL_MAX)


def learn_timeout(body: Any) -> float:
    """How long to wait for the card to learn (0: stop learning)."""
    fields = _fields(body, ("timeout_s",))
    return _number("timeout_s", fields.get("timeout_s", 30.0), 0, card_rules.LEARN_MAX_S, "s")


def start_id_tag(body: Any) -> str:
    fields = _fields(body, ("id_tag",))
    return _text("id_tag", fields.get("id_tag", ""), 0, 20)


def token_name(body: Any) -> str:
    fields = _fields(body, ("name",))
    if "name" not in fields:
        raise InputError("name", None, "is required")
    return _text("name", fields["name"], 1, 40)


def pin(body: Any) -> str:
    fields = _fields(body, ("pin",))
    if "pin" not in fields:
        raise InputError("pin", None, "is required")
    return _text("pin", fields["pin"], 0, 64, secret=True)


def no_fields(body: Any) -> None:
    """Actions that take nothing: an empty object (or no body)."""
    _fields(body, ())


def query_int(query: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise InputError(name, text, f"must be a whole number {low}–{high}")
    return int(text)
