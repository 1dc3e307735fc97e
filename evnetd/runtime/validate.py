"""The config validator: a short-lived child process, the only one that imports pydantic.

``python -m evnetd.runtime.validate`` reads ``(text, source, overrides)`` pickled on stdin,
validates with the pydantic models of ``evnetd.runtime.config`` and writes, pickled on
stdout, either ``("ok", Validated)`` or ``("invalid", message)``. ``load_config`` runs it
and rebuilds the models as plain dataclasses (``evnetd.runtime.schema`` says why); the
memory pydantic takes goes away with this process.
"""

from __future__ import annotations

import pickle
import sys
import tomllib
from collections.abc import Mapping
from typing import Any

from evnetd.runtime import schema

if "evnetd.runtime.config" in sys.modules:
    raise RuntimeError("evnetd.runtime.config was imported before the validator: its models are not pydantic's")
schema.validating = True
from pydantic import BaseModel, ValidationError  # noqa: E402

from evnetd.runtime.config import Config  # noqa: E402


def describe(error: ValidationError) -> str:
    """One ``field = value: rule`` per problem, on one line."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(file)"
        rule = item["msg"]
        if item["type"] == "extra_forbidden":
            lines.append(f"{field}: unknown setting")
        else:
            lines.append(f"{field} = {item.get('input')!r}: {rule}")
    return "; ".join(lines)


def plain(value: Any) -> Any:
    """Validated models as :class:`schema.Validated` trees, everything else as it is."""
    if isinstance(value, BaseModel):
        cls = type(value)
        return schema.Validated(cls.__module__, cls.__qualname__,
                                {name: plain(getattr(value, name)) for name in cls.model_fields})  # fmt: skip
    if isinstance(value, list | tuple):
        return type(value)(plain(item) for item in value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def validate(text: str, source: str, overrides: Mapping[str, Mapping[str, Any]]) -> tuple[str, Any]:
    """``("ok", tree)`` or ``("invalid", message)``; ``overrides`` (from the command line)
    replace keys of the file's sections before validation, so they obey the same rules."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return "invalid", f"{source}: not valid TOML: {exc}"
    for section, values in overrides.items():
        table = data.setdefault(section, {})
        if isinstance(table, dict):  # otherwise the section itself is reported as invalid
            table.update(values)
    try:
        return "ok", plain(Config.model_validate(data))
    except ValidationError as exc:
        return "invalid", f"{source}: {describe(exc)}"


def main() -> None:
    text, source, overrides = pickle.load(sys.stdin.buffer)
    sys.stdout.buffer.write(pickle.dumps(validate(text, source, overrides)))


if __name__ == "__main__":
    main()
