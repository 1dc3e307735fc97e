"""PN532 driver against an I2C-level model: ready byte, ACK/NACK, frames and checksums."""

from __future__ import annotations

import pytest

from evnetd.hal.errors import (
    CrcError,
    DeviceIdentityError,
    DeviceIOError,
    DeviceTimeoutError,
    NackError,
)
from evnetd.hal.linux import pn532
from evnetd.hal.linux.pn532 import Pn532

from .fakes import FakeClock, FakeSMBus, Pn532Model


@pytest.mark.parametrize(
    ("command", "data", "frame"),
    [
        # Byte strings as printed in the PN532 user manual and application note.
        (0x02, b"", "0000ff02fed4022a00"),
        (0x14, b"\x01", "0000ff03fdd4140117" + "00"),
        (0x4A, b"\x01\x00", "0000ff04fcd44a0100e1" + "00"),
    ],
)
def test_build_frame(command: int, data: bytes, frame: str) -> None:
    assert pn532.build_frame(command, data) == bytes.fromhex(frame)


def test_parse_response() -> None:
    # GetFirmwareVersion answer of a PN532 v1.6: IC 32, Ver 01, Rev 06, Support 07.
    frame = bytes.fromhex("0000ff06fad50332010607e800")
    assert pn532.parse_response(frame, 0x02) == bytes.fromhex("32010607")


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("0000ff06fbd50332010607e800", CrcError),  # LCS off by one
        ("0000ff06fad50332010607e900", CrcError),  # DCS off by one
        ("0000ff01ff7f8100", NackError),  # the error frame
        ("0000ff06fad50332010607", DeviceIOError),  # truncated before DCS
        ("0000ff00ff00", DeviceIOError),  # an ACK, not a response
        ("000000000000", DeviceIOError),  # no start code
        ("0000ff06fad4033201060700", DeviceIOError),  # TFI D4: our own frame echoed
    ],
)
def test_parse_response_errors(frame: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        pn532.parse_response(bytes.fromhex(frame), 0x02)


def make_reader(model: Pn532Model) -> tuple[Pn532, FakeSMBus, FakeClock]:
    clock = FakeClock()
    bus = FakeSMBus({0x24: model})
    return Pn532(bus, clock=clock.monotonic, sleep=clock.sleep), bus, clock


def test_open_identifies_and_configures() -> None:
    model = Pn532Model()
    reader, _, _ = make_reader(model)
    assert model.commands == [
        (0x02, b""),
        (0x14, b"\x01"),  # SAM normal mode
        (0x32, b"\x05\xff\x01\x01"),  # MaxRetries: passive activation tried twice, not forever
    ]
    assert reader.firmware == (0x01, 0x06)


def test_wrong_ic_is_refused() -> None:
    with pytest.raises(DeviceIdentityError):
        make_reader(Pn532Model(ic=0x31))


@pytest.mark.parametrize(
    ("uid", "ats"),
    [
        (bytes.fromhex("deadbeef"), b""),
        (bytes.fromhex("04331 8ea703280".replace(" ", "")), b""),
        (bytes.fromhex("0102030405060708090a"), b""),
        (bytes.fromhex("08a1b2c3"), bytes.fromhex("0578807002")),  # ISO-DEP card with ATS
    ],
)
def test_poll_returns_uid(uid: bytes, ats: bytes) -> None:
    model = Pn532Model(card_uid=uid, ats=ats)
    reader, _, _ = make_reader(model)
    assert reader.poll() == uid
    assert model.commands[-1] == (0x4A, b"\x01\x00")


def test_poll_without_card() -> None:
    reader, _, _ = make_reader(Pn532Model())
    assert reader.poll() is None


def test_poll_waits_for_ready_status() -> None:
    model = Pn532Model(card_uid=b"\x01\x02\x03\x04", ready_after=3)
    reader, _, clock = make_reader(model)
    polls_before, start = model.status_polls, clock.now
    assert reader.poll() == b"\x01\x02\x03\x04"
    assert model.status_polls - polls_before == 8  # 3 busy + 1 ready, for ACK and answer
    assert clock.now - start == pytest.approx(6 * pn532.POLL_INTERVAL_S)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("nack", NackError),
        ("garbage_ack", DeviceIOError),
        ("error_frame", NackError),
        ("bad_lcs", CrcError),
        ("bad_dcs", CrcError),
        ("wrong_cmd", DeviceIOError),
        ("wrong_tfi", DeviceIOError),
        ("never_ready_ack", DeviceTimeoutError),
        ("never_ready_response", DeviceTimeoutError),
    ],
)
def test_poll_errors(fault: str, error: type[Exception]) -> None:
    model = Pn532Model(card_uid=b"\x01\x02\x03\x04")
    reader, _, _ = make_reader(model)
    model.faults[0x4A] = fault
    with pytest.raises(error):
        reader.poll()


@pytest.mark.parametrize("fault", ["nack", "error_frame", "bad_dcs", "never_ready_ack"])
def test_open_errors(fault: str) -> None:
    with pytest.raises((NackError, CrcError, DeviceTimeoutError)):
        make_reader(Pn532Model(faults={0x02: fault}))


def test_timeout_keeps_within_poll_budget_and_aborts() -> None:
    model = Pn532Model(card_uid=b"\x01\x02\x03\x04")
    reader, _, clock = make_reader(model)
    model.faults[0x4A] = "never_ready_response"
    start = clock.now
    with pytest.raises(DeviceTimeoutError):
        reader.poll()
    assert 0.09 <= clock.now - start <= 0.1
    assert model.aborts == 1  # the host ACK cancels the command the reader still runs
    model.faults.clear()
    assert reader.poll() == b"\x01\x02\x03\x04"


def test_short_target_data() -> None:
    model = Pn532Model(card_uid=b"\x01\x02\x03\x04")
    reader, _, _ = make_reader(model)
    original = model._response

    def truncated(command: int, params: bytes, fault: str | None) -> bytes:
        frame = original(command, params, fault)
        if command != 0x4A:
            return frame
        body = bytes.fromhex("d54b0101004400070102")  # NFCIDLength 7, only 2 bytes follow
        return bytes([0, 0, 0xFF, len(body), 256 - len(body)]) + body + bytes(
            [(256 - sum(body) % 256) % 256, 0]
        )

    model._response = truncated  # type: ignore[method-assign]
    with pytest.raises(DeviceIOError):
        reader.poll()


def test_bus_errors() -> None:
    model = Pn532Model()
    reader, bus, _ = make_reader(model)
    del bus.devices[0x24]
    with pytest.raises(DeviceIOError):
        reader.poll()
    reader.close()
    assert bus.closed


def test_absent_reader_on_open() -> None:
    with pytest.raises(DeviceIOError):
        Pn532(FakeSMBus({}))
