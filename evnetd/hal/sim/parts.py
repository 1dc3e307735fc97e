"""Simulated board parts on top of a PlantLink."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from evnetd.hal import board
from evnetd.hal.interfaces import (
    DigitalInput,
    DigitalOutput,
    Edge,
    EdgeEvent,
    Eeprom,
    LedDriver,
    LedState,
    NfcReader,
    Pwm,
    SlowAdc,
    TemperatureSensor,
)
from evnetd.hal.sim.link import PlantLink

# Board input line → plant property giving its logical (active) level.
INPUT_PROPERTIES = {
    "rcd_fault": "RcdFault",
    "tamper": "Tamper",
    "mirror": "ContactorClosed",
    "lock_feedback": "Locked",
}


class SimOutput(DigitalOutput):
    def __init__(self, link: PlantLink, name: str, initial: bool = False) -> None:
        self.link, self.name, self._value = link, name, initial
        link.send("SetOutput", "sb", [name, initial])

    def set(self, value: bool) -> None:
        if value != self._value:
            self._value = value
            self.link.send("SetOutput", "sb", [self.name, value])

    def get(self) -> bool:
        return self._value

    def close(self) -> None:
        """Outputs fall to their safe (inactive) level when the daemon lets go."""
        self.set(False)


class SimInput(DigitalInput):
    def __init__(self, link: PlantLink, name: str) -> None:
        if name not in INPUT_PROPERTIES:
            raise ValueError(f"input {name!r}: must be one of {', '.join(INPUT_PROPERTIES)}")
        self.link, self.name = link, name
        self._property = INPUT_PROPERTIES[name]
        self._edges: asyncio.Queue[EdgeEvent] = asyncio.Queue()
        link.listen(self._changed)

    def _changed(self, changed: dict[str, Any]) -> None:
        if self._property in changed:
            edge = Edge.RISING if changed[self._property] else Edge.FALLING
            self._edges.put_nowait(EdgeEvent(self.name, edge, time.monotonic()))

    def value(self) -> bool:
        return bool(self.link.values[self._property])

    async def wait_edge(self) -> EdgeEvent:
        return await self._edges.get()

    def close(self) -> None:
        """Nothing to release: the mirror belongs to the link."""


class SimPwm(Pwm):
    def __init__(self, link: PlantLink) -> None:
        self.link, self._duty = link, 1.0
        link.send("SetPwmDuty", "d", [1.0])

    def set_duty(self, duty: float) -> None:
        if not 0.0 <= duty <= 1.0:
            raise ValueError(f"duty {duty}: must be 0.0–1.0")
        if duty != self._duty:
            self._duty = duty
            self.link.send("SetPwmDuty", "d", [duty])

    def duty(self) -> float:
        return self._duty

    def close(self) -> None:
        self.set_duty(1.0)


class SimSlowAdc(SlowAdc):
    """The MCP3204 of the pilot stage, with the plant's CP, PP and socket temperature."""

    def __init__(self, link: PlantLink) -> None:
        self.link = link

    def read_volts(self, channel: int) -> float:
        v = self.link.values
        if channel == board.MCP_CP_HIGH:
            return board.cp_pin(v["CpHigh"])
        if channel == board.MCP_CP_LOW:
            return board.cp_pin(v["CpLow"])
        if channel == board.MCP_PP:
            return board.pp_pin(v["PpOhms"])
        if channel == board.MCP_NTC:
            return board.ntc_pin(v["Temperature"])
        raise ValueError(f"MCP3204 channel {channel}: must be 0–3")

    def close(self) -> None:
        """Nothing held."""


class SimNfc(NfcReader):
    def __init__(self, link: PlantLink) -> None:
        self.link = link

    def poll(self) -> bytes | None:
        card = self.link.values["Card"]
        return bytes.fromhex(card) if card else None

    def close(self) -> None:
        """Nothing held."""


class SimLed(LedDriver):
    def __init__(self, link: PlantLink) -> None:
        self.link = link
        self._shown: LedState | None = None

    def show(self, state: LedState) -> None:
        if state != self._shown:
            self._shown = state
            body = [state.red, state.green, state.blue, state.brightness, state.blink_period_s]
            self.link.send("SetLed", "uuudd", body)

    def close(self) -> None:
        self.show(LedState(0, 0, 0, 0.0))


class SimTemperature(TemperatureSensor):
    def __init__(self, link: PlantLink) -> None:
        self.link = link

    def read_celsius(self) -> float:
        return float(self.link.values["Temperature"])

    def close(self) -> None:
        """Nothing held."""


class SimEeprom(Eeprom):
    """A blank (0xFF) 24C32 held in memory: the meter falls back to default calibration."""

    size = 4096

    def __init__(self) -> None:
        self._data = bytearray(b"\xff" * self.size)

    def read(self, address: int, length: int) -> bytes:
        self._check(address, length)
        return bytes(self._data[address : address + length])

    def write(self, address: int, data: bytes) -> None:
        self._check(address, len(data))
        self._data[address : address + len(data)] = data

    def _check(self, address: int, length: int) -> None:
        if address < 0 or length < 0 or address + length > self.size:
            raise ValueError(f"EEPROM range {address}+{length}: beyond {self.size} bytes")

    def close(self) -> None:
        """Nothing held."""
