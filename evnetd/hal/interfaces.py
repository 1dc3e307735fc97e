"""The hardware the daemons see: small abstract classes, one per kind of part.

Each has a ``linux`` backend (real device nodes) and a ``sim`` backend (the plant simulator).
Calls that only touch a register or a line are synchronous: on Linux they take microseconds,
in the simulator they read a local mirror of the plant or queue a bus message. Calls that
wait for the world (the next block of samples, an edge) are coroutines.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Simultaneous samples of all ADC channels.

    ``channels[k][i]`` is the voltage at the ADC input of channel ``k`` at time
    ``t0 + i / rate_hz`` (monotonic clock, seconds). Scaling to line volts and amps is
    calibration, done by the metering core, not here.
    """

    t0: float
    rate_hz: float
    channels: tuple[Sequence[float], ...]

    @property
    def length(self) -> int:
        return len(self.channels[0]) if self.channels else 0


class SampleAdc(abc.ABC):
    """A simultaneous-sampling ADC delivering continuous blocks (ADS131M08)."""

    channel_count: int
    rate_hz: float

    @abc.abstractmethod
    async def read_block(self) -> SampleBlock:
        """Wait for and return the next block; raise DeviceTimeoutError when samples stop."""

    @abc.abstractmethod
    def close(self) -> None: ...


class SlowAdc(abc.ABC):
    """A multiplexed, polled ADC (MCP3204): one conversion per call."""

    @abc.abstractmethod
    def read_volts(self, channel: int) -> float:
        """Voltage at the ADC input of ``channel`` after board scaling of the pilot stage."""

    @abc.abstractmethod
    def close(self) -> None: ...


class Edge(enum.Enum):
    RISING = "rising"
    FALLING = "falling"


@dataclass(frozen=True, slots=True)
class EdgeEvent:
    line: str
    edge: Edge
    timestamp: float  # monotonic seconds


class DigitalOutput(abc.ABC):
    """One output line, addressed by its board name (``permit``, ``contactor``...)."""

    name: str

    @abc.abstractmethod
    def set(self, value: bool) -> None: ...

    @abc.abstractmethod
    def get(self) -> bool:
        """The level last written."""

    @abc.abstractmethod
    def close(self) -> None: ...


class DigitalInput(abc.ABC):
    """One input line with edge events. ``value()`` is the logical (active) level."""

    name: str

    @abc.abstractmethod
    def value(self) -> bool: ...

    @abc.abstractmethod
    async def wait_edge(self) -> EdgeEvent:
        """Wait for the next edge on this line."""

    @abc.abstractmethod
    def close(self) -> None: ...


class Pwm(abc.ABC):
    """A PWM channel (the control-pilot generator)."""

    @abc.abstractmethod
    def set_duty(self, duty: float) -> None:
        """Set the duty cycle as a fraction 0.0–1.0 at the configured frequency."""

    @abc.abstractmethod
    def duty(self) -> float: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class NfcReader(abc.ABC):
    """An ISO 14443A card reader (PN532)."""

    @abc.abstractmethod
    def poll(self) -> bytes | None:
        """The UID of a card in the field, or None. Must return within ~100 ms."""

    @abc.abstractmethod
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LedState:
    """What the LED ring shows: colour (0–255 each), brightness 0.0–1.0, blink period."""

    red: int
    green: int
    blue: int
    brightness: float = 1.0
    blink_period_s: float = 0.0  # 0 = steady


class LedDriver(abc.ABC):
    """The RGB LED ring driver (PCA9633)."""

    @abc.abstractmethod
    def show(self, state: LedState) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class TemperatureSensor(abc.ABC):
    """The relay/PCB temperature sensor (TMP1075)."""

    @abc.abstractmethod
    def read_celsius(self) -> float: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class Eeprom(abc.ABC):
    """The identity/calibration EEPROM (24C32)."""

    size: int

    @abc.abstractmethod
    def read(self, address: int, length: int) -> bytes: ...

    @abc.abstractmethod
    def write(self, address: int, data: bytes) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...
