"""PublishedInterface: only real changes are emitted; NaN (unknown) staying NaN is no change."""

from __future__ import annotations

import math
from typing import Any

import pytest

from evnetd.bus.service import PublishedInterface


class Example(PublishedInterface):
    PROPERTIES = {"Voltage": "d", "Faults": "as"}

    def __init__(self) -> None:
        super().__init__("org.evnet.Example1", {"Voltage": math.nan, "Faults": []})
        self.emitted: list[dict[str, Any]] = []

    def emit_properties_changed(self, changed: dict[str, Any], invalidated: list[str] | None = None) -> None:
        self.emitted.append(changed)


def test_only_changes_are_emitted() -> None:
    example = Example()
    assert example.publish({"Voltage": math.nan, "Faults": []}) == {}
    assert example.emitted == []
    assert example.publish({"Voltage": 230.0, "Faults": []}) == {"Voltage": 230.0}
    assert example.publish({"Voltage": 230.0, "Faults": ["pen"]}) == {"Faults": ["pen"]}
    changed = example.publish({"Voltage": math.nan})
    assert math.isnan(changed["Voltage"])
    assert len(example.emitted) == 3


def test_every_property_needs_an_initial_value() -> None:
    class Broken(PublishedInterface):
        PROPERTIES = {"A": "d", "B": "d"}

    with pytest.raises(ValueError, match="no initial value"):
        Broken("org.evnet.Broken1", {"A": 1.0})
