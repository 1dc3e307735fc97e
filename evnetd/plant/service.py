"""The plant simulator on D-Bus (``org.evnet.Plant1``).

`evnetctl sim ...` changes the world through its methods; the daemons' ``sim`` HAL
backends write their outputs through ``SetOutput``/``SetPwmDuty``/``SetLed`` and mirror the
properties to read their inputs. Every command is applied and published at once (so a
fault reaches the meter within a bus round trip); the physics advances every 10 ms.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from dbus_fast.aio import MessageBus

from evnetd.bus.connection import connect
from evnetd.bus.errors import InvalidArgument
from evnetd.bus.names import PLANT
from evnetd.bus.service import PublishedInterface, bus_method
from evnetd.plant.model import Output, PlantError, PlantModel
from evnetd.runtime.config import Config
from evnetd.runtime.log import fields

log = logging.getLogger(__name__)
STEP_S = 0.01


def snapshot(model: PlantModel) -> dict[str, Any]:
    """The published view of the model (property name → value)."""
    led = model.led
    return {
        "Plugged": model.plugged,
        "CableRating": model.cable_a,
        "EvState": model.ev_state if model.plugged else "A",
        "EvMaxCurrent": model.ev_max_a,
        "EvCurrent": round(model.ev_current_a, 2),
        "PwmDuty": model.pwm_duty,
        "CpHigh": model.cp_high_v,
        "CpLow": model.cp_low_v,
        "PpOhms": model.pp_ohms,
        "Locked": model.locked,
        "ContactorClosed": model.contactor_closed,
        "Permit": model.outputs[Output.PERMIT],
        "ContactorRequest": model.outputs[Output.CONTACTOR],
        "LockMotor": "lock" if model.outputs[Output.LOCK_A] else
        ("unlock" if model.outputs[Output.LOCK_B] else "off"),
        "RcdTest": model.outputs[Output.RCD_TEST],
        "Buzzer": model.outputs[Output.BUZZER],
        "GridVoltage": model.grid_voltage_v,
        "GridFrequency": model.grid_frequency_hz,
        "NpeVoltage": model.npe_v,
        "LoadVoltage": model.load_v,
        "SiteCurrent": model.site_a,
        "SolarCurrent": model.solar_a,
        "Temperature": round(model.board_temperature_c, 1),
        "RcdFault": model.rcd_fault,
        "Tamper": model.tamper,
        "AdcSilent": model.adc_silent,
        "Faults": sorted(f.value for f in model.faults),
        "Card": model.card,
        "Led": [led[0], led[1], led[2], led[3], led[4]],
    }


class PlantInterface(PublishedInterface):
    PROPERTIES = {
        "Plugged": "b", "CableRating": "u", "EvState": "s", "EvMaxCurrent": "d",
        "EvCurrent": "d", "PwmDuty": "d", "CpHigh": "d", "CpLow": "d", "PpOhms": "d",
        "Locked": "b", "ContactorClosed": "b", "Permit": "b", "ContactorRequest": "b",
        "LockMotor": "s", "RcdTest": "b", "Buzzer": "b", "GridVoltage": "d",
        "GridFrequency": "d", "NpeVoltage": "d", "LoadVoltage": "d", "SiteCurrent": "d",
        "SolarCurrent": "d", "Temperature": "d", "RcdFault": "b", "Tamper": "b",
        "AdcSilent": "b", "Faults": "as", "Card": "s", "Led": "(uuudd)",
    }  # fmt: skip

    def __init__(self, model: PlantModel, clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self.clock = clock
        super().__init__(PLANT.interface, snapshot(model))

    def apply(self, change: Callable[[float], None]) -> None:
        """Run one command at the current time, then publish what changed."""
        now = self.clock()
        try:
            change(now)
        except PlantError as exc:
            raise InvalidArgument(str(exc)) from None
        self.model.step(now)
        self.publish(snapshot(self.model))

    @bus_method("u")
    def Plug(self, cable_amps: int) -> None:
        self.apply(lambda now: self.model.plug(now, cable_amps))

    @bus_method()
    def Unplug(self) -> None:
        self.apply(self.model.unplug)

    @bus_method("s")
    def SetEvState(self, state: str) -> None:
        self.apply(lambda now: self.model.set_ev_state(now, state))

    @bus_method("d")
    def SetEvMax(self, amps: float) -> None:
        self.apply(lambda now: self.model.set_ev_max(now, amps))

    @bus_method("s")
    def PresentCard(self, uid: str) -> None:
        self.apply(lambda now: self.model.present_card(now, uid))

    @bus_method("d", "d")
    def SetGrid(self, voltage: float, frequency: float) -> None:
        """``frequency`` ≤ 0 keeps the present frequency."""
        self.apply(lambda now: self.model.set_grid(now, voltage, frequency if frequency > 0 else None))

    @bus_method("d")
    def SetSite(self, amps: float) -> None:
        self.apply(lambda now: self.model.set_site(now, amps))

    @bus_method("d")
    def SetSolar(self, amps: float) -> None:
        self.apply(lambda now: self.model.set_solar(now, amps))

    @bus_method("d")
    def SetTemperature(self, celsius: float) -> None:
        """NaN returns the temperature to the thermal model."""
        self.apply(lambda now: self.model.set_temperature(now, None if math.isnan(celsius) else celsius))

    @bus_method("s", "b")
    def SetFault(self, name: str, on: bool) -> None:
        self.apply(lambda now: self.model.set_fault(now, name, on))
        log.info("fault %s %s", name, "injected" if on else "removed", extra=fields(FAULT=name))

    @bus_method("s", "b")
    def SetOutput(self, name: str, value: bool) -> None:
        self.apply(lambda now: self.model.set_output(now, name, value))

    @bus_method("d")
    def SetPwmDuty(self, duty: float) -> None:
        self.apply(lambda now: self.model.set_pwm_duty(now, duty))

    @bus_method("u", "u", "u", "d", "d")
    def SetLed(
        self, red: int, green: int, blue: int, brightness: float, blink: float
    ) -> None:
        self.apply(lambda now: self.model.set_led(now, (red, green, blue, brightness, blink)))

    @bus_method("d", returns="a(dss)")
    def Events(self, since: float) -> list[list[Any]]:
        """What happened since monotonic time ``since``: (time, name, value)."""
        return [[e.time, e.name, e.value] for e in self.model.events if e.time >= since]


class PlantService:
    """The `evnetd sim-plant` daemon."""

    name = "evnet-sim"

    def __init__(self, config: Config) -> None:
        self.config = config
        sim = config.sim
        self.model = PlantModel(
            grid_voltage_v=sim.grid_voltage_v,
            grid_frequency_hz=sim.grid_frequency_hz,
            ev_max_a=sim.ev_max_current_a,
            ev_ramp_a_per_s=sim.ev_ramp_a_per_s,
            ambient_c=sim.ambient_c,
            temperature_c=sim.ambient_c,
            tethered=config.charger.tethered,
        )
        self.interface = PlantInterface(self.model)
        self.bus: MessageBus | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._last_tick = time.monotonic()

    async def start(self) -> None:
        self.bus = await connect(self.config.general.bus_address)
        self.bus.export(PLANT.path, self.interface)
        await self.bus.request_name(PLANT.bus_name)
        self._ticker = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(STEP_S)
            self._last_tick = time.monotonic()
            self.model.step(self._last_tick)
            self.interface.publish(snapshot(self.model))

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        if self.bus:
            self.bus.disconnect()

    def healthy(self) -> bool:
        return time.monotonic() - self._last_tick < 1.0

    def status_line(self) -> str:
        m = self.model
        return f"EV {m.ev_state} {'plugged' if m.plugged else 'unplugged'}, {m.ev_current_a:.1f} A"
