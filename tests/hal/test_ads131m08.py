"""ADS131M08 driver against the frame-level model in fakes.py."""

from __future__ import annotations

import asyncio
import threading

import pytest

from evnetd.hal.errors import CrcError, DeviceIdentityError, DeviceIOError, DeviceTimeoutError
from evnetd.hal.interfaces import SampleBlock
from evnetd.hal.linux import ads131m08 as ads
from evnetd.hal.linux.ads131m08 import Ads131m08

from .fakes import Ads131m08Model, FakeDrdy, FakeSpiDev

# Known CRC-16-CCITT-FALSE values (seed 0xFFFF); the first is the standard check value.
CRC_CASES = [
    (b"123456789", 0x29B1),
    (bytes(3), 0xCC9C),  # NULL command word
    (bytes.fromhex("001100"), 0xFCDE),  # RESET
    (bytes.fromhex("a00000"), 0x7100),  # RREG ID
    (bytes.fromhex("610000111000"), 0x6388),  # WREG MODE, 0x1110
    (b"", 0xFFFF),
]


@pytest.mark.parametrize(("data", "crc"), CRC_CASES)
def test_crc16_ccitt(data: bytes, crc: int) -> None:
    assert ads.crc16_ccitt(data) == crc


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        (ads.rreg(0x00), 0xA000),
        (ads.rreg(0x03), 0xA180),
        (ads.rreg(0x04, 2), 0xA201),
        (ads.wreg(0x02), 0x6100),
        (ads.wreg(0x04, 2), 0x6201),
        (ads.wreg_ack(0x02), 0x4100),
        (ads.CMD_NULL, 0x0000),
        (ads.CMD_RESET, 0x0011),
        (ads.CMD_STANDBY, 0x0022),
        (ads.CMD_WAKEUP, 0x0033),
    ],
)
def test_command_words(word: int, expected: int) -> None:
    assert word == expected


def test_input_frames_carry_crc_and_padding() -> None:
    assert ads.build_frame([ads.CMD_NULL]) == bytes.fromhex("000000" + "cc9c00") + bytes(24)
    assert ads.build_frame([ads.wreg(0x02), 0x1110]) == (
        bytes.fromhex("610000" + "111000" + "638800") + bytes(21)
    )
    with pytest.raises(ValueError):
        ads.build_frame([0] * 10)


def test_configuration_values() -> None:
    assert ads.MODE_VALUE == 0x1110
    assert ads.CLOCK_VALUE == 0xFF0E  # datasheet reset value: 8 channels, OSR 1024, HR
    assert ads.SAMPLE_RATE_HZ == 4000.0
    assert ads.FRAME_BYTES == 30


KNOWN_FRAME = bytes.fromhex("050000" "7fffff" "800000" "000001" "ffffff") + bytes(12)


def test_parse_frame() -> None:
    frame = ads.parse_frame(KNOWN_FRAME + bytes.fromhex("c7a600"))
    assert frame.response == 0x0500
    assert frame.codes == (0x7FFFFF, -0x800000, 1, -1, 0, 0, 0, 0)


def test_parse_frame_rejects_bad_crc() -> None:
    with pytest.raises(CrcError):
        ads.parse_frame(KNOWN_FRAME + bytes.fromhex("c7a700"))
    flipped = bytearray(KNOWN_FRAME + bytes.fromhex("c7a600"))
    flipped[5] ^= 0x10  # one bit of channel 0
    with pytest.raises(CrcError):
        ads.parse_frame(bytes(flipped))


def test_parse_frame_rejects_short_frame() -> None:
    with pytest.raises(DeviceIOError):
        ads.parse_frame(KNOWN_FRAME)


@pytest.mark.parametrize(
    ("raw", "value"),
    [(0x000000, 0), (0x7FFFFF, 8388607), (0x800000, -8388608), (0xFFFFFF, -1), (0x400000, 4194304)],
)
def test_sign_extend_24(raw: int, value: int) -> None:
    assert ads.sign_extend_24(raw) == value


@pytest.mark.parametrize(
    ("code", "gain", "volts"),
    [
        (0, 1, 0.0),
        (-8388608, 1, -1.2),  # negative full scale
        (8388607, 1, 1.2 - 1.2 / 8388608),  # positive full scale is one LSB short
        (4194304, 1, 0.6),
        (-1, 1, -1.2 / 8388608),
        (-8388608, 2, -0.6),
        (-8388608, 128, -0.009375),
        (4194304, 4, 0.15),
    ],
)
def test_code_to_volts(code: int, gain: int, volts: float) -> None:
    assert ads.code_to_volts(code, gain) == pytest.approx(volts, abs=1e-15)


def make_adc(
    model: Ads131m08Model | None = None, drdy: FakeDrdy | None = None, **kwargs: object
) -> tuple[Ads131m08, Ads131m08Model, FakeSpiDev, FakeDrdy]:
    model = model or Ads131m08Model()
    spi = FakeSpiDev(model)
    drdy = drdy or FakeDrdy()
    adc = Ads131m08(spi, drdy, **kwargs)  # type: ignore[arg-type]
    model.sample_index = 0
    return adc, model, spi, drdy


def test_open_resets_and_configures() -> None:
    adc, model, spi, _ = make_adc(gains=(1, 2, 4, 8, 16, 32, 64, 128))
    assert model.commands[:3] == [0x0011, 0x0000, 0xA000]  # RESET, NULL, RREG ID
    assert 0x0022 in model.commands and model.commands.index(0x0022) < model.commands.index(
        0x0033
    )
    assert model.regs[0x02] == 0x1110  # input CRC on, RESET flag cleared, 24-bit words
    assert model.regs[0x03] == 0xFF0E
    assert model.regs[0x04] == 0x3210
    assert model.regs[0x05] == 0x7654
    assert not model.standby
    assert model.input_crc_failures == 0
    assert all(len(tx) == 30 for tx, _ in spi.transfers)
    assert adc.rate_hz == 4000.0 and adc.channel_count == 8


def test_wrong_part_is_refused() -> None:
    with pytest.raises(DeviceIdentityError):
        make_adc(Ads131m08Model(id_high=0x24))  # an ADS131M04


def test_missing_reset_acknowledgement() -> None:
    class Silent(Ads131m08Model):
        def _execute(self, cmd: int, data: list[int]) -> int | None:
            return 0x0000 if cmd == 0x0011 else super()._execute(cmd, data)

    with pytest.raises(DeviceIOError):
        make_adc(Silent())


def test_register_write_that_does_not_stick() -> None:
    class Stubborn(Ads131m08Model):
        def _execute(self, cmd: int, data: list[int]) -> int | None:
            if cmd == ads.wreg(0x02):
                return 0x4000 | (cmd & 0x1FFF)  # acknowledges but ignores MODE
            return super()._execute(cmd, data)

    with pytest.raises(DeviceIOError, match="0x02"):
        make_adc(Stubborn())


def test_corrupted_frame_during_open() -> None:
    model = Ads131m08Model()
    model.corrupt_frames = {4}
    with pytest.raises(CrcError):
        make_adc(model)


@pytest.mark.parametrize("gains", [(1,) * 7, (3,) + (1,) * 7, (256,) * 8])
def test_bad_gains(gains: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        make_adc(gains=gains)


def test_read_frame() -> None:
    adc, model, _, drdy = make_adc(gains=(1, 2, 1, 1, 1, 1, 1, 1))
    model.sample_source = lambda i: (-8388608, -8388608, 4194304, 1, -1, 0, 100, 8388607)
    frame = adc.read_frame()
    assert frame.codes == (-8388608, -8388608, 4194304, 1, -1, 0, 100, 8388607)
    volts = adc.volts(frame)
    assert volts[0] == pytest.approx(-1.2)
    assert volts[1] == pytest.approx(-0.6)
    assert volts[2] == pytest.approx(0.6)
    assert drdy.calls == [0.05]


def test_read_frame_drdy_timeout() -> None:
    adc, _, _, _ = make_adc(drdy=FakeDrdy(budget=0))
    with pytest.raises(DeviceTimeoutError):
        adc.read_frame()


def test_read_frame_crc_error() -> None:
    adc, model, _, _ = make_adc()
    model.corrupt_frames = {model.frame_number}
    with pytest.raises(CrcError):
        adc.read_frame()
    adc.read_frame()  # the next frame is fine again


def test_read_frame_detects_spontaneous_reset() -> None:
    adc, model, _, _ = make_adc()
    model.regs[0x02] |= 0x0400  # brown-out: the part reset itself
    with pytest.raises(DeviceIOError, match="reset"):
        adc.read_frame()


def test_read_frame_reports_rejected_command_crc() -> None:
    adc, model, _, _ = make_adc()
    model.crc_err = True
    with pytest.raises(CrcError):
        adc.read_frame()


def test_bus_error_becomes_device_io_error() -> None:
    adc, _, spi, _ = make_adc()
    spi.error = OSError(5, "Input/output error")
    with pytest.raises(DeviceIOError):
        adc.read_frame()


def counting_samples(i: int) -> tuple[int, ...]:
    return tuple(i * 8 + k for k in range(8))


async def test_read_block_is_one_mains_cycle_and_gap_free() -> None:
    adc, model, _, _ = make_adc(drdy=FakeDrdy(budget=None))
    model.sample_source = counting_samples
    adc._wait_drdy = FakeDrdy(budget=160)  # exactly two blocks, then DRDY stops
    first = await adc.read_block()
    second = await adc.read_block()
    assert first.length == 80 and second.length == 80
    assert first.rate_hz == 4000.0
    lsb = 1.2 / 8388608
    assert first.channels[3][0] == pytest.approx(3 * lsb)
    assert first.channels[0][79] == pytest.approx(79 * 8 * lsb)
    assert second.channels[0][0] == pytest.approx(80 * 8 * lsb)  # no frame lost between
    assert second.t0 >= first.t0
    with pytest.raises(DeviceTimeoutError):
        await adc.read_block()
    adc.close()


async def test_read_block_crc_error_then_recovers() -> None:
    adc, model, _, _ = make_adc()
    model.corrupt_frames = {model.frame_number + 10}
    with pytest.raises(CrcError):
        await adc.read_block()
    block = await adc.read_block()  # a fresh worker starts
    assert block.length == 80
    adc.close()


async def test_slow_consumer_drops_oldest_blocks() -> None:
    adc, model, _, _ = make_adc()
    model.sample_source = counting_samples
    adc._wait_drdy = FakeDrdy(budget=80 * 12)  # 12 blocks, then the timeout

    def block_number(block: SampleBlock) -> int:
        return round(block.channels[0][0] / (80 * 8 * 1.2 / 8388608))

    received = [block_number(await adc.read_block())]
    for _ in range(200):  # stay away while the worker runs dry
        await asyncio.sleep(0.01)
        if adc._worker is not None and not adc._worker.is_alive():
            break
    await asyncio.sleep(0.01)
    while True:
        try:
            received.append(block_number(await adc.read_block()))
        except DeviceTimeoutError:
            break
    # 13 items delivered into a queue of 8: at least 4 blocks dropped, always the oldest.
    assert adc.overruns >= 4
    assert len(received) == 12 - adc.overruns
    assert received == sorted(received)
    assert received[-1] == 11  # the newest block is never the one dropped
    adc.close()


async def test_close_stops_worker_and_puts_adc_in_standby() -> None:
    adc, model, spi, _ = make_adc()
    await adc.read_block()
    adc.close()
    assert not any(t.name == "ads131m08" and t.is_alive() for t in threading.enumerate())
    assert model.commands[-1] == 0x0022
    assert model.standby
    assert spi.closed
