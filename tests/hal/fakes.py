"""Byte- and register-level fakes of spidev, smbus2 and gpiod for the linux drivers.

Each part is modelled from its datasheet, independently of the driver code: the ADS131M08
model answers commands one frame late with CRCs computed by ``binascii.crc_hqx``, the PN532
model builds its own frames, the 24C32 model wraps writes inside a page and NACKs during
its write cycle. A driver that frames, orders or splits wrongly gets wrong data or an
assertion from the model, not a silent pass.
"""

from __future__ import annotations

import binascii
import ctypes
import enum
import errno
import os
import select
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smbus2 import i2c_msg

I2C_M_RD = 0x0001


class FakeClock:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def ccitt(data: bytes) -> int:
    """CRC-16-CCITT-FALSE from the standard library (independent of the driver's code)."""
    return binascii.crc_hqx(data, 0xFFFF)


# --------------------------------------------------------------------------------------
# SPI


class FakeSpiDev:
    """Stands in for spidev.SpiDev: every xfer2 goes to a device model and is recorded."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.transfers: list[tuple[bytes, bytes]] = []
        self.closed = False
        self.error: OSError | None = None

    def xfer2(self, values: list[int]) -> list[int]:
        assert not self.closed, "transfer on a closed SPI device"
        assert all(0 <= v <= 255 for v in values)
        if self.error is not None:
            raise self.error
        tx = bytes(values)
        rx = self.model.transfer(tx)
        assert len(rx) == len(tx)
        self.transfers.append((tx, rx))
        return list(rx)

    def close(self) -> None:
        self.closed = True


ADS_RESET_REGISTERS = {
    0x00: 0x2800,  # ID (low byte reserved)
    0x02: 0x0510,  # MODE: RESET flag, 24-bit words, SPI timeout
    0x03: 0xFF0E,  # CLOCK
    0x04: 0x0000,  # GAIN1
    0x05: 0x0000,  # GAIN2
    0x06: 0x0600,  # CFG
}


class Ads131m08Model:
    """ADS131M08 seen from SPI: 24-bit words, 10-word frames, responses one frame late."""

    def __init__(self, id_high: int = 0x28) -> None:
        self.id_high = id_high
        self.regs = dict(ADS_RESET_REGISTERS)
        self.regs[0x00] = id_high << 8
        self.pending: int | None = None  # None: the STATUS register (NULL response)
        self.crc_err = False
        self.input_crc_failures = 0
        self.standby = False
        self.commands: list[int] = []
        self.sample_index = 0
        self.sample_source: Callable[[int], Sequence[int]] = lambda i: (0,) * 8
        self.corrupt_frames: set[int] = set()  # output frame numbers to corrupt
        self.frame_number = 0

    def status(self) -> int:
        mode = self.regs[0x02]
        return (0x1000 if self.crc_err else 0) | (mode & 0x0400) | (mode & 0x0300) | 0x00FF

    def _output(self) -> bytes:
        if self.pending is None:
            response = self.status()
            self.crc_err = False  # cleared when STATUS is shifted out
        else:
            response = self.pending
        codes = self.sample_source(self.sample_index)
        self.sample_index += 1
        body = response.to_bytes(2, "big") + b"\x00"
        for code in codes:
            assert -(1 << 23) <= code < (1 << 23)
            body += (code & 0xFFFFFF).to_bytes(3, "big")
        crc = ccitt(body)
        if self.frame_number in self.corrupt_frames:
            crc ^= 0x0001
        return body + crc.to_bytes(2, "big") + b"\x00"

    def transfer(self, tx: bytes) -> bytes:
        assert len(tx) == 30, f"frame of {len(tx)} bytes, expected 10 words of 3 bytes"
        out = self._output()
        self.frame_number += 1
        words = [int.from_bytes(tx[i : i + 2], "big") for i in range(0, 30, 3)]
        assert all(tx[i + 2] == 0 for i in range(0, 30, 3)), "16-bit words must be zero padded"
        cmd = words[0]
        self.commands.append(cmd)
        is_wreg = cmd & 0xE000 == 0x6000
        data_words = (cmd & 0x7F) + 1 if is_wreg else 0
        crc_at = 1 + data_words
        crc_ok = ccitt(tx[: 3 * crc_at]) == words[crc_at]
        if not crc_ok:
            self.input_crc_failures += 1
        if self.regs[0x02] & 0x1000 and not crc_ok:
            self.crc_err = True
            if not is_wreg:  # the datasheet: a WREG executes even with a bad input CRC
                self.pending = None
                return out
        self.pending = self._execute(cmd, words[1 : 1 + data_words])
        return out

    def _execute(self, cmd: int, data: list[int]) -> int | None:
        if cmd == 0x0000:
            return None
        if cmd == 0x0011:
            self.regs = dict(ADS_RESET_REGISTERS)
            self.regs[0x00] = self.id_high << 8
            self.standby = False
            return 0xFF00 | self.id_high
        if cmd == 0x0022:
            self.standby = True
            return 0x0022
        if cmd == 0x0033:
            self.standby = False
            return 0x0033
        address = (cmd >> 7) & 0x3F
        count = (cmd & 0x7F) + 1
        if cmd & 0xE000 == 0xA000:
            assert count == 1, "the model answers single-register reads only"
            return self.regs.get(address, 0) if address != 0x01 else self.status()
        if cmd & 0xE000 == 0x6000:
            for offset, value in enumerate(data):
                if address + offset >= 0x02:  # ID and STATUS are read-only
                    self.regs[address + offset] = value
            return 0x4000 | (cmd & 0x1FFF)
        raise AssertionError(f"unknown ADS131M08 command {cmd:#06x}")


class FakeDrdy:
    """The DRDY waiter: answers True at once, for ``budget`` frames (None = forever)."""

    def __init__(self, budget: int | None = None) -> None:
        self.budget = budget
        self.calls: list[float] = []

    def __call__(self, timeout_s: float) -> bool:
        self.calls.append(timeout_s)
        if self.budget is None:
            return True
        if self.budget <= 0:
            return False
        self.budget -= 1
        return True


class Mcp3204Model:
    """MCP3204 at bit level: start bit, SGL, D2..D0, sample, null bit, B11..B0."""

    def __init__(self, codes: dict[int, int]) -> None:
        self.codes = codes
        self.channels_read: list[int] = []

    def transfer(self, tx: bytes) -> bytes:
        nbits = 8 * len(tx)
        bits = int.from_bytes(tx, "big")
        start = next(i for i in range(nbits) if bits >> (nbits - 1 - i) & 1)

        def bit(i: int) -> int:
            return bits >> (nbits - 1 - i) & 1

        assert bit(start + 1) == 1, "the model supports single-ended conversions only"
        channel = bit(start + 2) << 2 | bit(start + 3) << 1 | bit(start + 4)
        assert channel < 4, "the MCP3204 has channels 0-3 (D2 must be 0)"
        self.channels_read.append(channel)
        code = self.codes[channel]
        out = 0
        for i in range(nbits):
            if i < start + 6:
                level = 1  # DOUT is high-Z until the null bit; read here as 1
            elif i == start + 6:
                level = 0  # null bit
            elif i <= start + 18:
                level = code >> (11 - (i - start - 7)) & 1
            else:
                level = 0
            out = out << 1 | level
        return out.to_bytes(len(tx), "big")


# --------------------------------------------------------------------------------------
# I2C


class FakeSMBus:
    """Stands in for smbus2.SMBus, routing each transfer to the model at its address."""

    def __init__(self, devices: dict[int, Any]) -> None:
        self.devices = devices
        self.log: list[tuple[Any, ...]] = []
        self.closed = False

    def _device(self, address: int) -> Any:
        assert not self.closed, "I2C access on a closed bus"
        if address not in self.devices:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        return self.devices[address]

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        value: int = self._device(i2c_addr).read_register(register)
        self.log.append(("read_byte_data", i2c_addr, register))
        return value

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        assert 0 <= value <= 255
        self._device(i2c_addr).write_register(register, value)
        self.log.append(("write_byte_data", i2c_addr, register, value))

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        data: bytes = self._device(i2c_addr).read_block(register, length)
        self.log.append(("read_i2c_block_data", i2c_addr, register, length))
        return list(data)

    def i2c_rdwr(self, *msgs: i2c_msg) -> None:
        kinds = []
        for msg in msgs:
            device = self._device(msg.addr)
            if msg.flags & I2C_M_RD:
                data = device.read(msg.len)
                assert len(data) == msg.len
                ctypes.memmove(msg.buf, data, msg.len)
                kinds.append(("r", msg.addr, msg.len))
            else:
                device.write(bytes(msg))
                kinds.append(("w", msg.addr, bytes(msg)))
        self.log.append(("i2c_rdwr", *kinds))

    def close(self) -> None:
        self.closed = True


def pn532_frame(body: bytes) -> bytes:
    """A PN532 normal information frame around TFI..DATA."""
    return (
        bytes([0x00, 0x00, 0xFF, len(body), (0x100 - len(body)) & 0xFF])
        + body
        + bytes([(0x100 - sum(body) % 256) & 0xFF, 0x00])
    )


PN532_ACK = bytes.fromhex("0000ff00ff00")
PN532_NACK = bytes.fromhex("0000ffff0000")
PN532_ERROR_FRAME = bytes.fromhex("0000ff01ff7f8100")


@dataclass
class Pn532Model:
    """PN532 on I2C: ready status byte, ACK, then the response frame; faults per command."""

    ic: int = 0x32
    card_uid: bytes | None = None
    sens_res: bytes = b"\x00\x44"
    sel_res: int = 0x00
    ats: bytes = b""
    ready_after: int = 0  # status polls answered "busy" before each frame is ready
    faults: dict[int, str] = field(default_factory=dict)
    commands: list[tuple[int, bytes]] = field(default_factory=list)
    aborts: int = 0
    status_polls: int = 0
    _outbox: list[bytes] = field(default_factory=list)
    _busy_polls: int = 0
    _never_ready: bool = False

    def write(self, data: bytes) -> None:
        if data == PN532_ACK:
            self.aborts += 1
            self._outbox.clear()
            self._never_ready = False
            return
        assert data[:3] == b"\x00\x00\xff", f"bad frame start {data.hex()}"
        length, lcs = data[3], data[4]
        assert (length + lcs) & 0xFF == 0, "bad LCS from host"
        body = data[5 : 5 + length]
        assert len(body) == length and body[0] == 0xD4, "bad TFI from host"
        assert (sum(body) + data[5 + length]) & 0xFF == 0, "bad DCS from host"
        assert data[6 + length :] == b"\x00", "missing postamble"
        command, params = body[1], bytes(body[2:])
        self.commands.append((command, params))
        fault = self.faults.get(command)
        if fault == "never_ready_ack":
            self._never_ready = True
            return
        ack = {"nack": PN532_NACK, "garbage_ack": bytes.fromhex("0000ff00fe00")}.get(
            fault or "", PN532_ACK
        )
        self._outbox = [ack, self._response(command, params, fault)]
        self._busy_polls = self.ready_after

    def _response(self, command: int, params: bytes, fault: str | None) -> bytes:
        if fault == "error_frame":
            return PN532_ERROR_FRAME
        if command == 0x02:
            data = bytes([self.ic, 0x01, 0x06, 0x07])
        elif command in (0x14, 0x32):
            data = b""
        elif command == 0x4A:
            assert params == b"\x01\x00", "one target, 106 kbps type A"
            if self.card_uid is None:
                data = b"\x00"
            else:
                data = (
                    bytes([0x01, 0x01])
                    + self.sens_res
                    + bytes([self.sel_res, len(self.card_uid)])
                    + self.card_uid
                    + self.ats
                )
        else:
            return PN532_ERROR_FRAME
        tfi, code = 0xD5, command + 1
        if fault == "wrong_tfi":
            tfi = 0xD4
        if fault == "wrong_cmd":
            code = command + 3
        frame = bytearray(pn532_frame(bytes([tfi, code]) + data))
        if fault == "bad_lcs":
            frame[4] ^= 0x01
        if fault == "bad_dcs":
            frame[-2] ^= 0x01
        if fault == "never_ready_response":
            frame = bytearray()
        return bytes(frame)

    def read(self, length: int) -> bytes:
        ready = bool(self._outbox) and self._outbox[0] != b"" and not self._never_ready
        if length == 1:
            self.status_polls += 1
            if ready and self._busy_polls > 0:
                self._busy_polls -= 1
                ready = False
            return bytes([0x01 if ready else 0x00])
        if not ready:
            return bytes(length)
        frame = self._outbox.pop(0)
        self._busy_polls = self.ready_after
        return (b"\x01" + frame + bytes(length))[:length]


class Pca9633Model:
    """PCA9633 register file with its reset values; records every register write."""

    RESET = (0x11, 0x05, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00)

    def __init__(self) -> None:
        self.regs = list(self.RESET)
        self.writes: list[tuple[int, int]] = []

    def read_register(self, register: int) -> int:
        return self.regs[register]

    def write_register(self, register: int, value: int) -> None:
        assert 0 <= register <= 0x0C
        self.regs[register] = value
        self.writes.append((register, value))


class Tmp1075Model:
    """TMP1075: 16-bit registers, big-endian on the wire."""

    def __init__(self, temperature_raw: int = 0x1900, device_id: int = 0x7500) -> None:
        self.regs = {0x00: temperature_raw, 0x01: 0x00FF, 0x0F: device_id}

    def read_block(self, register: int, length: int) -> bytes:
        assert length == 2
        return self.regs[register].to_bytes(2, "big")


class Eeprom24c32Model:
    """24C32: 12-bit address pointer, writes wrap inside 32-byte pages, busy after a write."""

    SIZE = 4096
    PAGE = 32

    def __init__(self, clock: FakeClock, write_cycle_s: float = 0.004) -> None:
        self.clock = clock
        self.write_cycle_s = write_cycle_s
        self.memory = bytearray(b"\xff" * self.SIZE)
        self.pointer = 0
        self.busy_until = -1.0
        self.stuck = False  # True: the write cycle never ends
        self.page_writes: list[tuple[int, int]] = []
        self.nacks = 0

    def _check_idle(self) -> None:
        if self.clock.now < self.busy_until:
            self.nacks += 1
            raise OSError(errno.EREMOTEIO, "Remote I/O error")

    def write(self, data: bytes) -> None:
        self._check_idle()
        assert len(data) >= 2, "a 24C32 write starts with two address bytes"
        self.pointer = ((data[0] << 8) | data[1]) & 0x0FFF
        payload = data[2:]
        if not payload:
            return
        base = self.pointer & ~(self.PAGE - 1)
        for i, byte in enumerate(payload):
            self.memory[base | ((self.pointer + i) & (self.PAGE - 1))] = byte
        self.page_writes.append((self.pointer, len(payload)))
        self.busy_until = float("inf") if self.stuck else self.clock.now + self.write_cycle_s

    def read(self, length: int) -> bytes:
        self._check_idle()
        out = bytes(self.memory[(self.pointer + i) % self.SIZE] for i in range(length))
        self.pointer = (self.pointer + length) % self.SIZE
        return out


# --------------------------------------------------------------------------------------
# gpiod (v2 Python bindings)


class Direction(enum.Enum):
    AS_IS = 1
    INPUT = 2
    OUTPUT = 3


class LineEdge(enum.Enum):
    NONE = 1
    RISING = 2
    FALLING = 3
    BOTH = 4


class Value(enum.Enum):
    INACTIVE = 0
    ACTIVE = 1


@dataclass
class LineSettings:
    direction: Direction = Direction.AS_IS
    edge_detection: LineEdge = LineEdge.NONE
    active_low: bool = False
    output_value: Value = Value.INACTIVE


class FakeEdgeEvent:
    class Type(enum.Enum):
        RISING_EDGE = 1
        FALLING_EDGE = 2

    def __init__(self, event_type: FakeEdgeEvent.Type, timestamp_ns: int, offset: int) -> None:
        self.event_type = event_type
        self.timestamp_ns = timestamp_ns
        self.line_offset = offset


class FakeLineRequest:
    def __init__(self, chip: FakeGpioChip, consumer: str, config: dict[int, LineSettings]):
        self.chip = chip
        self.consumer = consumer
        self.config = config
        self._read_fd, self._write_fd = os.pipe()
        self._events: list[FakeEdgeEvent] = []
        self.released = False

    def _check(self, offset: int) -> LineSettings:
        assert not self.released, "request already released"
        assert offset in self.config, f"line {offset} is not in this request"
        return self.config[offset]

    @property
    def fd(self) -> int:
        assert not self.released
        return self._read_fd

    def get_value(self, offset: int) -> Value:
        settings = self._check(offset)
        logical = self.chip.levels[offset] ^ settings.active_low
        return Value.ACTIVE if logical else Value.INACTIVE

    def set_value(self, offset: int, value: Value) -> None:
        settings = self._check(offset)
        assert settings.direction is Direction.OUTPUT
        assert isinstance(value, Value)
        self.chip.levels[offset] = (value is Value.ACTIVE) ^ settings.active_low

    def push(self, event: FakeEdgeEvent) -> None:
        self._events.append(event)
        os.write(self._write_fd, b"!")

    def wait_edge_events(self, timeout: float | None = None) -> bool:
        readable, _, _ = select.select([self._read_fd], [], [], timeout)
        return bool(readable)

    def read_edge_events(self, max_events: int | None = None) -> list[FakeEdgeEvent]:
        assert self._events, "read_edge_events would block: no event pending"
        os.read(self._read_fd, len(self._events))
        events, self._events = self._events, []
        return events

    def release(self) -> None:
        if not self.released:
            os.close(self._read_fd)
            os.close(self._write_fd)
            self.released = True
            self.chip.requests.remove(self)


class FakeGpioChip:
    """The chip behind the fake gpiod module: physical line levels and live requests."""

    def __init__(self, path: str = "/dev/gpiochip0") -> None:
        self.path = path
        self.levels: dict[int, bool] = {}
        self.requests: list[FakeLineRequest] = []

    def request_lines(
        self, path: str, config: dict[int, LineSettings], consumer: str | None = None
    ) -> FakeLineRequest:
        if path != self.path:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        for offset, settings in config.items():
            assert isinstance(settings, LineSettings)
            if any(offset in r.config for r in self.requests):
                raise OSError(errno.EBUSY, "Device or resource busy")
            if settings.direction is Direction.OUTPUT:
                self.levels[offset] = (settings.output_value is Value.ACTIVE) ^ settings.active_low
            else:
                self.levels.setdefault(offset, False)
        request = FakeLineRequest(self, consumer or "", dict(config))
        self.requests.append(request)
        return request

    def drive(self, offset: int, level: bool, timestamp_ns: int) -> None:
        """The outside world moves an input line to a physical level."""
        old = self.levels.get(offset, False)
        self.levels[offset] = level
        if old == level:
            return
        for request in self.requests:
            settings = request.config.get(offset)
            if settings is None:
                continue
            logical_rising = level ^ settings.active_low
            wanted = {
                LineEdge.BOTH: True,
                LineEdge.RISING: logical_rising,
                LineEdge.FALLING: not logical_rising,
                LineEdge.NONE: False,
            }[settings.edge_detection]
            if wanted:
                kind = FakeEdgeEvent.Type.FALLING_EDGE
                if logical_rising:
                    kind = FakeEdgeEvent.Type.RISING_EDGE
                request.push(FakeEdgeEvent(kind, timestamp_ns, offset))


def fake_gpiod_module(chip: FakeGpioChip) -> types.ModuleType:
    """A module with the v2 API surface the driver uses, backed by ``chip``."""
    def request_lines(
        path: str, config: dict[int, LineSettings], consumer: str | None = None
    ) -> FakeLineRequest:
        return chip.request_lines(path, config, consumer)

    module = types.ModuleType("fake_gpiod")
    module.__dict__.update(
        LineSettings=LineSettings,
        EdgeEvent=FakeEdgeEvent,
        line=types.SimpleNamespace(Direction=Direction, Edge=LineEdge, Value=Value),
        request_lines=request_lines,
    )
    return module


# --------------------------------------------------------------------------------------
# sysfs PWM


class FakePwmSysfs:
    """A pwmchip directory whose attribute writes follow the kernel's rules.

    Installed over ``Path.write_text`` for paths inside the chip directory: ``export``
    creates the channel directory, ``period``/``duty_cycle`` refuse (EINVAL) any state with
    the duty cycle above the period, ``enable`` refuses a zero period. Every write is logged.
    """

    def __init__(self, root: Path, *, export_creates: bool = True) -> None:
        self.root = root
        self.export_creates = export_creates
        self.writes: list[tuple[str, str]] = []
        self.failures: dict[str, OSError] = {}
        root.mkdir(parents=True)
        (root / "export").touch()
        (root / "npwm").write_text("2\n")

    def add_channel(self, channel: int, period: int = 0, duty: int = 0, enable: int = 0) -> None:
        directory = self.root / f"pwm{channel}"
        directory.mkdir()
        for name, value in (("period", period), ("duty_cycle", duty), ("enable", enable)):
            with open(directory / name, "w") as attribute:  # the kernel, not a user write
                attribute.write(f"{value}\n")

    def _value(self, directory: Path, name: str) -> int:
        return int((directory / name).read_text())

    def install(self, monkeypatch: Any) -> None:
        original = Path.write_text

        def write_text(path: Path, data: str, *args: Any, **kwargs: Any) -> int:
            if path.parent != self.root and path.parent.parent != self.root:
                return original(path, data, *args, **kwargs)
            relative = str(path.relative_to(self.root))
            if relative in self.failures:
                raise self.failures[relative]
            value = int(data)
            directory = path.parent
            if path.name == "export":
                self.writes.append((relative, data))
                if self.export_creates:
                    self.add_channel(value)
                return len(data)
            if path.name == "period" and value < self._value(directory, "duty_cycle"):
                raise OSError(errno.EINVAL, "Invalid argument")
            if path.name == "duty_cycle" and value > self._value(directory, "period"):
                raise OSError(errno.EINVAL, "Invalid argument")
            if path.name == "enable" and value and self._value(directory, "period") == 0:
                raise OSError(errno.EINVAL, "Invalid argument")
            self.writes.append((relative, data))
            return original(path, data, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", write_text)
