"""What the config models are made of in a daemon: frozen stdlib dataclasses, no pydantic.

Pydantic costs a daemon about 13 MB of resident memory (its modules, pydantic-core and the
built validators), a third of the meter's budget, for a file read once at start. So the
models in ``evnetd.runtime.config`` are declared once, in pydantic's vocabulary, and that
module is imported in one of two ways:

* in the validator, a short-lived child process (``evnetd.runtime.validate``), the names
  are pydantic's: the file is checked there and the error message names field, value and
  rule;
* everywhere else (the daemons, evnetctl, the tests) the names are the stand-ins below:
  ``BaseModel`` turns each model into a frozen keyword-only dataclass with the same
  fields and defaults, ``Field``/``field_validator``/``model_validator`` only mark (the
  rules run in the validator). The child hands back the validated values as
  :class:`Validated` trees and :func:`build` makes the daemon's models from them, so
  every attribute has the type pydantic gave it (``Path``, ``float``, ``list``...).

In a daemon a model supports attribute reading, ``==``, iteration over ``(name, value)``,
``model_dump()`` and ``model_copy(update=...)``; it never validates.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

validating = False
"""True only in the validator process, set before ``evnetd.runtime.config`` is imported:
the models are then pydantic models."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _FieldInfo:
    default: Any
    default_factory: Callable[[], Any] | None


def Field(default: Any = dataclasses.MISSING, *, default_factory: Callable[[], Any] | None = None,
          **rules: Any) -> Any:  # fmt: skip
    """pydantic.Field's stand-in: keeps the default; the rules are the validator's business."""
    return _FieldInfo(default, default_factory)


def ConfigDict(**settings: Any) -> dict[str, Any]:
    """pydantic.ConfigDict's stand-in: the settings (extra="forbid"...) matter only to the validator."""
    return dict(settings)


def field_validator(*fields: str, **settings: Any) -> Callable[[_T], _T]:
    """A rule that runs in the validator only: here the function is left as it is."""
    return lambda function: function


def model_validator(**settings: Any) -> Callable[[_T], _T]:
    """A rule that runs in the validator only: here the function is left as it is."""
    return lambda function: function


class BaseModel:
    """Each subclass becomes a frozen, keyword-only dataclass of its annotated fields."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, annotation in inspect.get_annotations(cls).items():
            if "ClassVar" in str(annotation) or name not in cls.__dict__:
                continue
            default = cls.__dict__[name]
            if isinstance(default, _FieldInfo) and default.default_factory is not None:
                setattr(cls, name, dataclasses.field(default_factory=default.default_factory))
            elif isinstance(default, _FieldInfo):
                setattr(cls, name, dataclasses.field(default=default.default))
            elif isinstance(default, list | dict | set | BaseModel):  # copied per instance, as pydantic does
                setattr(cls, name, dataclasses.field(default_factory=functools.partial(copy.deepcopy, default)))
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            yield f.name, getattr(self, f.name)

    def model_dump(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        model = copy.deepcopy(self) if deep else self
        return dataclasses.replace(model, **(update or {}))  # type: ignore[type-var]


@dataclass(frozen=True, slots=True)
class Validated:
    """One validated model as it crosses from the validator: where its class lives and
    its fields (values are plain data, other Validated trees, or lists/dicts of them)."""

    module: str
    qualname: str
    values: dict[str, Any]


def build(value: Any) -> Any:
    """The daemon's models (and containers) for a tree the validator sent."""
    if isinstance(value, Validated):
        cls: Any = importlib.import_module(value.module)
        for part in value.qualname.split("."):
            cls = getattr(cls, part)
        return cls(**{name: build(item) for name, item in value.values.items()})
    if isinstance(value, list | tuple):
        return type(value)(build(item) for item in value)
    if isinstance(value, dict):
        return {key: build(item) for key, item in value.items()}
    return value
