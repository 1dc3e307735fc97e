"""open_can: python-can's virtual bus, and the translation of its start-up errors."""

from __future__ import annotations

from typing import Any

import can
import pytest

from evnetd.hal.errors import DeviceIOError, DeviceNotFoundError
from evnetd.hal.linux.can import open_can


def test_virtual_bus_carries_frames() -> None:
    sender = open_can("virtual", "evnet-test")
    receiver = open_can("virtual", "evnet-test")
    try:
        sender.send(can.Message(arbitration_id=0x321, data=b"\x01\x02", is_extended_id=False))
        message = receiver.recv(timeout=1.0)
        assert message is not None
        assert message.arbitration_id == 0x321 and bytes(message.data) == b"\x01\x02"
    finally:
        sender.shutdown()
        receiver.shutdown()


def test_missing_socketcan_interface() -> None:
    # ENODEV where CAN exists but can9 does not, EAFNOSUPPORT where the kernel has no CAN:
    # both surface from python-can as a plain OSError.
    with pytest.raises(DeviceNotFoundError):
        open_can("socketcan", "can9")


def test_unknown_interface() -> None:
    with pytest.raises(DeviceNotFoundError):
        open_can("no-such-interface", "x")


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (can.CanInitializationError("no adapter"), DeviceNotFoundError),
        (can.CanOperationError("bus off"), DeviceIOError),
    ],
)
def test_error_mapping(
    monkeypatch: pytest.MonkeyPatch, raised: Exception, expected: type[Exception]
) -> None:
    def failing_bus(**kwargs: Any) -> can.BusABC:
        raise raised

    monkeypatch.setattr(can, "Bus", failing_bus)
    with pytest.raises(expected):
        open_can()
