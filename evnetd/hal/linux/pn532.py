"""NXP PN532: the ISO 14443A (RFID card) reader on I2C1 at 0x24.

Host and reader exchange normal information frames:

    00 | 00 FF | LEN | LCS | TFI CMD DATA... | DCS | 00

with LEN counting TFI..DATA, LEN + LCS ≡ 0 and TFI + CMD + sum(DATA) + DCS ≡ 0 (mod 256).
TFI is D4 host→reader and D5 reader→host; the response command code is the request's + 1.
On I2C every read transaction starts with a status byte whose bit 0 says the reader has
something to send, so one exchange is: write the command frame, poll status, read the
6-byte ACK (00 00 FF 00 FF 00), poll status, read the response frame.

Reference: NXP UM0701-02 (PN532 user manual) §6.2 frames, §6.2.4 I2C, §7 commands.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from evnetd.hal.errors import (
    CrcError,
    DeviceIdentityError,
    DeviceIOError,
    DeviceTimeoutError,
    NackError,
)
from evnetd.hal.interfaces import NfcReader
from evnetd.hal.linux.buses import I2cBus, i2c_read, i2c_write, io_errors, open_i2c

ADDRESS = 0x24
TFI_HOST = 0xD4
TFI_READER = 0xD5
ACK_FRAME = bytes([0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00])
NACK_FRAME = bytes([0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00])
ERROR_TFI = 0x7F  # the "syntax error" frame: 00 00 FF 01 FF 7F 81 00
STATUS_READY = 0x01

CMD_GET_FIRMWARE_VERSION = 0x02
CMD_SAM_CONFIGURATION = 0x14
CMD_RF_CONFIGURATION = 0x32
CMD_IN_LIST_PASSIVE_TARGET = 0x4A

IC_PN532 = 0x32
SAM_NORMAL_MODE = 0x01
RF_ITEM_MAX_RETRIES = 0x05
# MxRtyATR, MxRtyPSL (reset values) and MxRtyPassiveActivation: the reset value 0xFF makes
# InListPassiveTarget wait forever for a card; 0x01 (two tries) lets an empty field answer
# "no target" within the poll budget.
RF_MAX_RETRIES = bytes([0xFF, 0x01, 0x01])
BRTY_106K_TYPE_A = 0x00

FRAME_OVERHEAD = 9  # preamble, start code (2), LEN, LCS, TFI, CMD, DCS, postamble
MAX_DATA = 253  # LEN is at most 255 and counts TFI and CMD
POLL_INTERVAL_S = 0.001
ACK_TIMEOUT_S = 0.03
COMMAND_TIMEOUT_S = 0.1
POLL_TIMEOUT_S = 0.09


def build_frame(command: int, data: bytes = b"") -> bytes:
    """A host→reader normal information frame."""
    body = bytes([TFI_HOST, command]) + data
    if len(body) > 255:
        raise ValueError("PN532: a normal frame carries at most 253 data bytes")
    length = len(body)
    return (
        bytes([0x00, 0x00, 0xFF, length, (-length) & 0xFF])
        + body
        + bytes([(-sum(body)) & 0xFF, 0x00])
    )


def parse_response(frame: bytes, command: int) -> bytes:
    """Check a reader→host frame (status byte already removed) and return its DATA."""
    start = frame.find(b"\x00\xff")
    if start < 0 or start + 4 > len(frame):
        raise DeviceIOError(f"PN532: no frame start in {frame.hex()}")
    length, lcs = frame[start + 2], frame[start + 3]
    if (length + lcs) & 0xFF:
        raise CrcError(f"PN532: length checksum fails (LEN {length:#04x}, LCS {lcs:#04x})")
    if length == 0:
        raise DeviceIOError("PN532: an ACK frame where a response was expected")
    if start + 4 + length >= len(frame):
        raise DeviceIOError(f"PN532: frame truncated ({length} bytes announced)")
    body = frame[start + 4 : start + 4 + length]
    dcs = frame[start + 4 + length]
    if (sum(body) + dcs) & 0xFF:
        raise CrcError(f"PN532: data checksum fails (DCS {dcs:#04x})")
    if body == bytes([ERROR_TFI]):
        raise NackError(f"PN532: error frame in answer to command {command:#04x}")
    if len(body) < 2 or body[0] != TFI_READER or body[1] != command + 1:
        raise DeviceIOError(f"PN532: unexpected answer {body.hex()} to command {command:#04x}")
    return body[2:]


class Pn532(NfcReader):
    """The card reader: identity check and set-up at construction. Owns ``bus``."""

    def __init__(
        self,
        bus: I2cBus,
        *,
        address: int = ADDRESS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._bus = bus
        self._address = address
        self._clock = clock
        self._sleep = sleep
        answer = self.exchange(CMD_GET_FIRMWARE_VERSION, max_data=4)
        if len(answer) != 4 or answer[0] != IC_PN532:
            raise DeviceIdentityError(f"PN532: firmware answer {answer.hex()}, IC is not 0x32")
        self.firmware = (answer[1], answer[2])  # version, revision
        self.exchange(CMD_SAM_CONFIGURATION, bytes([SAM_NORMAL_MODE]), max_data=0)
        self.exchange(
            CMD_RF_CONFIGURATION, bytes([RF_ITEM_MAX_RETRIES]) + RF_MAX_RETRIES, max_data=0
        )

    @classmethod
    def open(cls, *, bus: int = 1) -> Pn532:
        """The reader on the board: I2C1, address 0x24."""
        return cls(open_i2c(bus))

    def _wait_ready(self, timeout_s: float, what: str) -> None:
        deadline = self._clock() + timeout_s
        while True:
            try:
                status = i2c_read(self._bus, self._address, 1)[0]
            except OSError:
                status = 0  # the reader may NACK its address while it wakes up
            if status & STATUS_READY:
                return
            if self._clock() >= deadline:
                raise DeviceTimeoutError(f"PN532: not ready for {what} within {timeout_s} s")
            self._sleep(POLL_INTERVAL_S)

    def _read(self, length: int) -> bytes:
        """Read ``length`` bytes after the status byte."""
        with io_errors("PN532"):
            return i2c_read(self._bus, self._address, length + 1)[1:]

    def _abort(self) -> None:
        """An ACK from the host cancels the command the reader is still working on."""
        with contextlib.suppress(OSError):
            i2c_write(self._bus, self._address, ACK_FRAME)

    def exchange(
        self,
        command: int,
        data: bytes = b"",
        *,
        max_data: int = MAX_DATA,
        timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> bytes:
        """Send one command and return the DATA of its response."""
        with io_errors("PN532"):
            i2c_write(self._bus, self._address, build_frame(command, data))
        self._wait_ready(ACK_TIMEOUT_S, "ACK")
        ack = self._read(len(ACK_FRAME))
        if ack == NACK_FRAME:
            raise NackError(f"PN532: NACK to command {command:#04x}")
        if ack != ACK_FRAME:
            raise DeviceIOError(f"PN532: expected ACK, read {ack.hex()}")
        try:
            self._wait_ready(timeout_s, f"the answer to command {command:#04x}")
        except DeviceTimeoutError:
            self._abort()
            raise
        return parse_response(self._read(max_data + FRAME_OVERHEAD), command)

    def poll(self) -> bytes | None:
        """The UID of one ISO 14443A card in the field (4, 7 or 10 bytes), or None."""
        answer = self.exchange(
            CMD_IN_LIST_PASSIVE_TARGET,
            bytes([0x01, BRTY_106K_TYPE_A]),
            timeout_s=POLL_TIMEOUT_S,
        )
        if not answer:
            raise DeviceIOError("PN532: empty answer to InListPassiveTarget")
        if answer[0] == 0:
            return None
        # NbTg, Tg, SENS_RES (2), SEL_RES, NFCIDLength, NFCID..., [ATS]
        if len(answer) < 6 or len(answer) < 6 + answer[5]:
            raise DeviceIOError(f"PN532: short target data {answer.hex()}")
        return bytes(answer[6 : 6 + answer[5]])

    def close(self) -> None:
        self._bus.close()
