"""The LED ring: one colour per status, blinking for activity/faults, slow blink offline."""

from __future__ import annotations

import pytest

from evnetd.charger.led import FAULT_BLINK_S, OFFLINE_BLINK_S, Brightness, led_for
from evnetd.iec61851.status import ConnectorStatus


@pytest.mark.parametrize("status", [s.value for s in ConnectorStatus] + ["Reserved"])
def test_every_status_has_a_pattern_at_every_brightness(status: str) -> None:
    for brightness in Brightness:
        for online in (True, False):
            led = led_for(status, online, brightness)
            assert led.brightness == brightness.value
            assert (led.red, led.green, led.blue) != (0, 0, 0)


def test_faulted_blinks_red_fast_and_offline_turns_steady_into_slow_blink() -> None:
    faulted = led_for("Faulted", True, Brightness.HIGH)
    assert (faulted.red, faulted.green, faulted.blue, faulted.blink_period_s) == (255, 0, 0, FAULT_BLINK_S)
    assert led_for("Available", True, Brightness.LOW).blink_period_s == 0.0
    assert led_for("Available", False, Brightness.LOW).blink_period_s == OFFLINE_BLINK_S
    assert led_for("Preparing", False, Brightness.LOW).blink_period_s == 1.0  # already blinking
