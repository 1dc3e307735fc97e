"""TI ADS131M08: the 8-channel simultaneous-sampling metering ADC (SPI0 CE0, DRDY on GPIO25).

Every SPI frame is 10 words of 24 bits (the reset word length). The host sends a command
word, any register data and an input CRC word; the device answers, in the *same* frame, the
response to the *previous* command, the 8 channel conversions and an output CRC word. So a
command's answer is read with the NULL frame that follows it.

Both CRCs are CRC-16-CCITT (polynomial 0x1021, seed 0xFFFF, no reflection, no final XOR)
over every byte of the frame before the CRC word, pad bytes included. The output CRC is
always sent; we check it on every frame, because a metering sample with a flipped bit is
worse than a missing one. The input CRC is switched on (MODE.RX_CRC_EN) so the part drops
a corrupted command instead of executing it.

Datasheet: TI SBAS950B (ADS131M08), register map Table 8-12, commands Table 8-11.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evnetd.hal.errors import CrcError, DeviceIdentityError, DeviceIOError, DeviceTimeoutError
from evnetd.hal.interfaces import SampleAdc, SampleBlock
from evnetd.hal.linux.buses import SpiDevice, io_errors, open_spi

SPI_MODE = 1  # CPOL = 0, CPHA = 1
SPI_MAX_HZ = 8_000_000

CHANNELS = 8
WORD_BYTES = 3
FRAME_WORDS = CHANNELS + 2  # response word, 8 channel words, CRC word
FRAME_BYTES = FRAME_WORDS * WORD_BYTES

CMD_NULL = 0x0000
CMD_RESET = 0x0011
CMD_STANDBY = 0x0022
CMD_WAKEUP = 0x0033

REG_ID = 0x00
REG_MODE = 0x02
REG_CLOCK = 0x03
REG_GAIN1 = 0x04  # PGA gain of channels 0-3, 4 bits each (3 used)
REG_GAIN2 = 0x05  # channels 4-7

ID_HIGH_BYTE = 0x28  # ID register 0x28xx: RESERVED[15:12] = 2, CHANCNT[11:8] = 8

# MODE: input CRC on, CCITT CRC, clear the RESET flag, 24-bit words, SPI timeout on,
# DRDY from the most lagging channel, active low.
MODE_RX_CRC_EN = 1 << 12
MODE_RESET = 1 << 10
MODE_WLENGTH_24 = 0b01 << 8
MODE_TIMEOUT = 1 << 4
MODE_VALUE = MODE_RX_CRC_EN | MODE_WLENGTH_24 | MODE_TIMEOUT

# CLOCK: all 8 channels on, OSR 1024 (fMOD = 8.192 MHz / 2 = 4.096 MHz → 4 kSPS), power
# mode high resolution (PWR = 0b10).
CLOCK_ALL_CHANNELS = 0xFF << 8
CLOCK_OSR_1024 = 0b011 << 2
CLOCK_PWR_HIGH_RESOLUTION = 0b10
CLOCK_VALUE = CLOCK_ALL_CHANNELS | CLOCK_OSR_1024 | CLOCK_PWR_HIGH_RESOLUTION
SAMPLE_RATE_HZ = 8_192_000 / 2 / 1024

STATUS_CRC_ERR = 1 << 12
STATUS_RESET = 1 << 10

GAINS = (1, 2, 4, 8, 16, 32, 64, 128)  # PGAGAINn code = index
FULL_SCALE_V = 1.2  # internal reference: input range ±1.2 V / gain

BLOCK_FRAMES = 80  # one 50 Hz cycle at 4 kSPS
DRDY_TIMEOUT_S = 0.05
QUEUED_BLOCKS = 8


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16-CCITT as the ADS131M0x computes it (the 'CCITT-FALSE' variant)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def rreg(address: int, count: int = 1) -> int:
    """RREG command word: 101a aaaa annn nnnn (n = count - 1)."""
    return 0xA000 | (address & 0x3F) << 7 | (count - 1) & 0x7F


def wreg(address: int, count: int = 1) -> int:
    """WREG command word: 011a aaaa annn nnnn (n = count - 1)."""
    return 0x6000 | (address & 0x3F) << 7 | (count - 1) & 0x7F


def wreg_ack(address: int, count: int = 1) -> int:
    """The word the part answers a WREG with: 010a aaaa ammm mmmm."""
    return 0x4000 | (address & 0x3F) << 7 | (count - 1) & 0x7F


def build_frame(words: Sequence[int]) -> bytes:
    """An input frame: 16-bit words MSB-aligned in 24-bit slots, the input CRC, zero padding."""
    if len(words) > FRAME_WORDS - 1:
        raise ValueError("a command frame holds at most 9 words before its CRC")
    body = b"".join((word & 0xFFFF).to_bytes(2, "big") + b"\x00" for word in words)
    crc = crc16_ccitt(body)
    return (body + crc.to_bytes(2, "big") + b"\x00").ljust(FRAME_BYTES, b"\x00")


def sign_extend_24(raw: int) -> int:
    """Two's complement value of a 24-bit conversion word."""
    return raw - (1 << 24) if raw & 0x800000 else raw


def code_to_volts(code: int, gain: int = 1) -> float:
    """Input voltage of a signed 24-bit code: 0x7FFFFF ≈ +1.2 V / gain, 0x800000 = −1.2 V / gain."""
    return code * FULL_SCALE_V / (gain * (1 << 23))


@dataclass(frozen=True, slots=True)
class Frame:
    """One output frame: the response word and the 8 signed channel codes."""

    response: int
    codes: tuple[int, ...]


def parse_frame(raw: bytes) -> Frame:
    """Split an output frame and check its CRC; raise CrcError when it does not match."""
    if len(raw) != FRAME_BYTES:
        raise DeviceIOError(f"ADS131M08: short frame ({len(raw)} of {FRAME_BYTES} bytes)")
    crc_at = (FRAME_WORDS - 1) * WORD_BYTES
    expected = crc16_ccitt(raw[:crc_at])
    received = int.from_bytes(raw[crc_at : crc_at + 2], "big")
    if expected != received:
        raise CrcError(f"ADS131M08: frame CRC {received:#06x}, computed {expected:#06x}")
    codes = tuple(
        sign_extend_24(int.from_bytes(raw[i : i + WORD_BYTES], "big"))
        for i in range(WORD_BYTES, crc_at, WORD_BYTES)
    )
    return Frame(response=int.from_bytes(raw[0:2], "big"), codes=codes)


class Ads131m08(SampleAdc):
    """The metering ADC: reset, identity check and configuration at construction.

    ``wait_drdy(timeout_s)`` blocks until DRDY falls (True) or the timeout passes (False);
    on the board it is ``GpioChip.edge_waiter("ads_drdy")``. The driver owns ``spi`` and
    closes it. ``read_frame`` and ``read_block`` must not be used at the same time: the
    second would steal frames from the first.
    """

    channel_count = CHANNELS
    rate_hz = SAMPLE_RATE_HZ

    def __init__(
        self,
        spi: SpiDevice,
        wait_drdy: Callable[[float], bool],
        *,
        gains: Sequence[int] = (1,) * CHANNELS,
        block_frames: int = BLOCK_FRAMES,
        drdy_timeout_s: float = DRDY_TIMEOUT_S,
    ) -> None:
        if len(gains) != CHANNELS or any(g not in GAINS for g in gains):
            raise ValueError(f"ADS131M08: need 8 gains, each one of {GAINS}")
        if block_frames < 1:
            raise ValueError("ADS131M08: block_frames must be at least 1")
        self._spi = spi
        self._wait_drdy = wait_drdy
        self._gains = tuple(gains)
        self._block_frames = block_frames
        self._drdy_timeout_s = drdy_timeout_s
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._queue: asyncio.Queue[SampleBlock | Exception] | None = None
        self.overruns = 0  # blocks dropped because the consumer fell behind
        self._configure()

    @classmethod
    def open(
        cls, wait_drdy: Callable[[float], bool], *, bus: int = 0, device: int = 0
    ) -> Ads131m08:
        """The part on the board: ``/dev/spidev0.0``."""
        return cls(open_spi(bus, device, mode=SPI_MODE, max_speed_hz=SPI_MAX_HZ), wait_drdy)

    @property
    def gains(self) -> tuple[int, ...]:
        return self._gains

    # -- frames and commands -------------------------------------------------------------

    def _transfer(self, words: Sequence[int]) -> Frame:
        with io_errors("ADS131M08"):
            rx = self._spi.xfer2(list(build_frame(words)))
        return parse_frame(bytes(rx))

    def _command(self, words: Sequence[int]) -> int:
        """Send a command frame, then a NULL frame that carries the command's response."""
        self._transfer(words)
        return self._transfer([CMD_NULL]).response

    def read_register(self, address: int) -> int:
        return self._command([rreg(address)])

    def write_register(self, address: int, value: int) -> None:
        """Write one register and read it back: a silently ignored write is a fault."""
        ack = self._command([wreg(address), value])
        if ack != wreg_ack(address):
            raise DeviceIOError(f"ADS131M08: WREG {address:#04x} answered {ack:#06x}")
        readback = self.read_register(address)
        if readback != value:
            raise DeviceIOError(
                f"ADS131M08: register {address:#04x} reads {readback:#06x}, wrote {value:#06x}"
            )

    def _expect(self, command: int, expected: int) -> None:
        answer = self._command([command])
        if answer != expected:
            raise DeviceIOError(
                f"ADS131M08: command {command:#06x} answered {answer:#06x}, not {expected:#06x}"
            )

    def _configure(self) -> None:
        self._transfer([CMD_RESET])
        time.sleep(0.001)  # t_REGACQ after reset is microseconds; be generous
        reset_ack = self._transfer([CMD_NULL]).response
        if reset_ack >> 8 != 0xFF:
            raise DeviceIOError(f"ADS131M08: RESET answered {reset_ack:#06x}")
        ident = self.read_register(REG_ID)
        if ident >> 8 != ID_HIGH_BYTE:
            raise DeviceIdentityError(f"ADS131M08: ID register {ident:#06x}, expected 0x28xx")
        # Stop conversions while the registers change, as TI's start-up sequence does.
        self._expect(CMD_STANDBY, CMD_STANDBY)
        self.write_register(REG_MODE, MODE_VALUE)
        self.write_register(REG_CLOCK, CLOCK_VALUE)
        self.write_register(REG_GAIN1, self._gain_word(0))
        self.write_register(REG_GAIN2, self._gain_word(4))
        self._expect(CMD_WAKEUP, CMD_WAKEUP)

    def _gain_word(self, first: int) -> int:
        word = 0
        for slot in range(4):
            word |= GAINS.index(self._gains[first + slot]) << (4 * slot)
        return word

    # -- samples -------------------------------------------------------------------------

    def read_frame(self) -> Frame:
        """Wait for DRDY and read one simultaneous sample set (blocking)."""
        if not self._wait_drdy(self._drdy_timeout_s):
            raise DeviceTimeoutError(
                f"ADS131M08: no DRDY within {self._drdy_timeout_s * 1000:.0f} ms"
            )
        frame = self._transfer([CMD_NULL])
        status = frame.response
        if status & STATUS_RESET:
            raise DeviceIOError("ADS131M08: the part has reset; its configuration is lost")
        if status & STATUS_CRC_ERR:
            raise CrcError("ADS131M08: the part rejected the CRC of a command frame")
        return frame

    def volts(self, frame: Frame) -> tuple[float, ...]:
        """Input voltages of a frame's channels at the configured gains."""
        return tuple(code_to_volts(c, g) for c, g in zip(frame.codes, self._gains, strict=True))

    def _collect_block(self) -> SampleBlock | None:
        """Read one block of frames; None when close() asked the worker to stop."""
        columns: list[list[float]] = [[] for _ in range(CHANNELS)]
        t0 = 0.0
        for index in range(self._block_frames):
            if self._stop.is_set():
                return None
            frame = self.read_frame()
            if index == 0:
                t0 = time.monotonic()
            for column, value in zip(columns, self.volts(frame), strict=True):
                column.append(value)
        return SampleBlock(t0=t0, rate_hz=self.rate_hz, channels=tuple(columns))

    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[SampleBlock | Exception],
    ) -> None:
        """Worker thread: read blocks back to back so no sample is lost between awaits."""
        while True:
            item: SampleBlock | Exception | None
            try:
                item = self._collect_block()
            except Exception as exc:  # delivered to the awaiting coroutine, never lost
                item = exc
            if item is None:
                return
            try:
                loop.call_soon_threadsafe(self._deliver, queue, item)
            except RuntimeError:  # the event loop is closed: nobody is listening
                return
            if isinstance(item, Exception):
                return

    def _deliver(
        self, queue: asyncio.Queue[SampleBlock | Exception], item: SampleBlock | Exception
    ) -> None:
        if queue.full():
            queue.get_nowait()
            self.overruns += 1
        queue.put_nowait(item)

    async def read_block(self) -> SampleBlock:
        """The next block of ``block_frames`` samples per channel, gap-free while awaited."""
        if self._worker is None or self._queue is None:
            self._stop.clear()
            self._queue = asyncio.Queue(maxsize=QUEUED_BLOCKS)
            self._worker = threading.Thread(
                target=self._run,
                args=(asyncio.get_running_loop(), self._queue),
                name="ads131m08",
                daemon=True,
            )
            self._worker.start()
        item = await self._queue.get()
        if isinstance(item, Exception):
            # The worker stopped after this error; the next call starts a fresh one.
            self._worker.join()
            self._worker = None
            self._queue = None
            raise item
        return item

    def close(self) -> None:
        """Stop the worker, put the part in standby (no conversions) and release SPI."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=1.0)
            self._worker = None
        self._queue = None
        try:
            self._transfer([CMD_STANDBY])
        finally:
            self._spi.close()
