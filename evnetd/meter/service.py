"""The metering/protection daemon: samples in, PERMIT out, measurements on the bus.

Every path that can trip ends in ``_apply``, which drives PERMIT before doing anything
else: the sample loop (each ADC block), the RCD and tamper input edges, the temperature
poll and the protection core's own deadlines. Nothing on those paths awaits another
daemon; the charger's offered current is followed from its published property, and if
the charger is gone the hardware maximum applies.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from dbus_fast.aio import MessageBus

from evnetd.bus.client import watch_service
from evnetd.bus.connection import connect
from evnetd.bus.errors import InvalidState
from evnetd.bus.names import CHARGER, METER
from evnetd.hal.backends import MeterHardware, open_meter_hardware
from evnetd.hal.errors import DeviceTimeoutError, HalError
from evnetd.hal.interfaces import DigitalInput
from evnetd.meter.interface import MeterInterface
from evnetd.meter.store import MeterStore
from evnetd.metering.aggregate import SecondAggregator
from evnetd.metering.calibration import (
    CALIBRATION_RECORD_SIZE,
    DEFAULT_CALIBRATION,
    Calibration,
    CalibrationFormatError,
    merge,
)
from evnetd.metering.energy import EnergyRegister
from evnetd.metering.halfcycle import HalfCycleRms
from evnetd.metering.measurement import CycleMeasurement
from evnetd.metering.meter import Meter
from evnetd.metering.sitereport import SiteReporter
from evnetd.protection.config import ProtectionConfig
from evnetd.protection.core import Decision, ProtectionCore
from evnetd.protection.faults import EventKind
from evnetd.runtime.config import Config
from evnetd.runtime.daemon import cancel_tasks, essential
from evnetd.runtime.log import fields

log = logging.getLogger("evnet.meter")

PUBLISH_S = 1.0
TEMPERATURE_S = 1.0
LOAD_LIVE_V, LOAD_DEAD_V = 50.0, 20.0  # load side live / dead (weld detection)
MAINS_LOST_V = 100.0  # below this on a half cycle the register is saved at once
HEALTHY_SAMPLES_S = 2.0  # the watchdog is fed only while blocks (or ADC timeouts) arrive
PLUGGED_PILOT = ("B", "C", "D", "E")  # F is our own signal and hides the EV: no news


def read_calibration(data: bytes) -> tuple[Calibration, str, str]:
    """The EEPROM record, or the defaults: (calibration, "eeprom" or "default", why)."""
    try:
        return Calibration.from_bytes(data), "eeprom", "a valid EEPROM record"
    except CalibrationFormatError as exc:
        return DEFAULT_CALIBRATION, "default", str(exc)  # a blank part reads 0xFF


def _site_values(m: CycleMeasurement) -> dict[str, float]:
    """The signed site properties of a window or a mean of windows, with this charger's own
    active current of the same window: energy management takes house = site − own, and the
    two must be measured together (the 1 Hz ``Current`` can be 2 s older than a fast update)."""
    own = m.power_w / m.vrms if math.isfinite(m.site_active_current) else math.nan
    return {"SitePower": round(m.site_power_w, 1), "SiteActiveCurrent": round(m.site_active_current, 3),
            "EvActiveCurrent": round(own, 3)}  # fmt: skip


class MeterService:
    name = "evnet-meter"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.core_config = ProtectionConfig(**config.protection.model_dump())
        self.bus: MessageBus | None = None
        self.hw: MeterHardware | None = None
        self.store: MeterStore | None = None
        self.interface = MeterInterface(self)
        self.energy = EnergyRegister()
        self.calibration_data = DEFAULT_CALIBRATION
        self.calibration_readout: dict[str, tuple[float, str]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._deadline: asyncio.TimerHandle | None = None
        self._last_progress = time.monotonic()
        self._latest: CycleMeasurement | None = None
        self._temperature = math.nan
        self._hold: str | None = None
        self._charger_lost = False  # the charger left the bus: its contactor request may be stuck high
        self._seen_charger = False
        self._decision: Decision | None = None
        self._mains_present = False

    # --- life cycle -------------------------------------------------------------------
    def _load_calibration(self) -> None:
        """The EEPROM's calibration (or the defaults) with the config's overrides on top.

        The config was validated at start; a combination Calibration still refuses (none
        is known) stops the service before PERMIT can rise.
        """
        assert self.hw is not None
        base, source, why = read_calibration(self.hw.eeprom.read(0, CALIBRATION_RECORD_SIZE))
        self.calibration_data, self.calibration_readout = merge(base, source, self.config.calibration.model_dump())
        overridden = sorted(name for name, (_, came) in self.calibration_readout.items() if came == "config")
        log.info("calibration from %s (%s); from the config: %s", source, why, ", ".join(overridden) or "nothing")

    async def start(self) -> None:
        general = self.config.general
        self.store = MeterStore(general.state_dir / "meter.db")
        self.energy = EnergyRegister(self.store.saved_mwh)
        self.bus = await connect(general.bus_address)
        # the sim ADC needs the gains before the EEPROM can be read: open with defaults,
        # then take the EEPROM's calibration for the metering itself
        self.hw = await open_meter_hardware(self.config, self.bus, DEFAULT_CALIBRATION.gains)
        self.hw.permit.set(False)
        self._load_calibration()
        self._hold = self.store.hold
        if self._hold is not None:
            log.error("PERMIT held low from before the restart: %s; an operator must clear it", self._hold,
                      extra=fields(FAULT="hold"))  # fmt: skip
        now = time.monotonic()
        self.meter = Meter(self.calibration_data)
        self.half_cycle = HalfCycleRms(self.calibration_data, self.hw.adc.rate_hz)
        self.seconds = SecondAggregator()
        self.site = SiteReporter()
        self.core = ProtectionCore(self.core_config, now=now, latched=self.store.latched)
        self._apply(self.core.observe_rcd(self.hw.rcd_fault.value(), now))
        self._apply(self.core.observe_tamper(self.hw.tamper.value(), now))
        self.bus.export(METER.path, self.interface)
        self.interface.publish({"EnergyWh": round(self.energy.total_wh, 3)})  # known before the first second
        await self.bus.request_name(METER.bus_name)
        await watch_service(self.bus, CHARGER, self._charger_changed)
        loop = asyncio.get_running_loop()
        self._tasks = [
            essential(loop.create_task(self._sample_loop())),
            essential(loop.create_task(self._watch_input(self.hw.rcd_fault, self.core.observe_rcd))),
            essential(loop.create_task(self._watch_input(self.hw.tamper, self.core.observe_tamper))),
            essential(loop.create_task(self._temperature_loop())),
            essential(loop.create_task(self._publish_loop())),
        ]

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        if self._deadline:
            self._deadline.cancel()
        if self.store:
            self.store.save(self.energy.milli_wh)
            self.store.close()
        if self.hw:
            self.hw.close()  # PERMIT falls low with the service
        if self.bus:
            self.bus.disconnect()

    def healthy(self) -> bool:
        return time.monotonic() - self._last_progress < HEALTHY_SAMPLES_S

    def status_line(self) -> str:
        m = self._latest
        faults = ",".join(self.interface.values["ActiveFaults"]) or "no faults"
        if m is None:
            return f"no measurement yet; {faults}"
        return f"{m.vrms:.0f} V {m.irms:.1f} A {self.energy.total_wh / 1000:.3f} kWh; {faults}"

    # --- the protection path ---------------------------------------------------------
    def _apply(self, decision: Decision) -> None:
        """Carry out a decision: PERMIT first, then everything that may take longer."""
        assert self.hw is not None and self.store is not None
        self.hw.permit.set(self._permitted(decision))
        self.hw.rcd_test.set(decision.rcd_test_output)
        self._decision = decision
        for event in decision.events:
            raised = event.kind is EventKind.RAISED
            level = logging.WARNING if raised or event.warning else logging.INFO
            log.log(level, event.message, extra=fields(FAULT=event.fault.value, OCPP_ERROR=event.error_code))
            value = math.nan if event.value is None else event.value
            emit = self.interface.FaultRaised if raised else self.interface.FaultCleared
            emit(event.fault.value, event.error_code, event.message, value)
        self.store.save_latched(decision.latched)
        self._schedule(decision.next_deadline)
        self.interface.publish(self._fault_properties(decision))

    def _permitted(self, decision: Decision) -> bool:
        return decision.permit and self._hold is None and not self._charger_lost

    def _fault_properties(self, decision: Decision) -> dict[str, Any]:
        faults = sorted(f.value for f in decision.faults)
        if self._hold is not None:
            faults.append("hold")
        return {
            "Permit": self._permitted(decision),
            "ActiveFaults": faults,
            "ErrorCode": "PowerSwitchFailure" if self._hold and not decision.faults else decision.error_code,
            "DeratingLimit": math.nan if decision.derating_limit_a is None else decision.derating_limit_a,
            "RcdSelfTest": decision.rcd_selftest.value.lower(),
            "SelfChecksOk": decision.self_checks_ok,
        }

    def _schedule(self, deadline: float | None) -> None:
        """One timer for the core's next deadline; kept as it is when the deadline did not
        move (``_apply`` runs for every ADC block)."""
        if self._deadline is not None and deadline == self._deadline.when():
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            # asyncio's clock is time.monotonic, the core's timeline
            self._deadline = loop.call_at(deadline, self._on_deadline)

    def _on_deadline(self) -> None:
        self._deadline = None  # fired: a deadline equal to this one must be scheduled anew
        self._apply(self.core.poll(time.monotonic()))

    async def _sample_loop(self) -> None:
        assert self.hw is not None and self.store is not None
        adc = self.hw.adc
        while True:
            try:
                block = await adc.read_block()
            except DeviceTimeoutError as exc:
                self._last_progress = time.monotonic()  # the loop runs; the ADC does not
                log.debug("ADC: %s", exc)
                self._apply(self.core.poll(time.monotonic()))
                continue
            except HalError as exc:
                log.error("ADC read failed: %s", exc, extra=fields(FAULT="adc"))
                self._apply(self.core.poll(time.monotonic()))
                await asyncio.sleep(0.01)
                continue
            now = time.monotonic()
            self._last_progress = now
            fast = self.half_cycle.feed(block)
            if fast is not None:
                self._apply(self.core.observe_half_cycle(fast[0], fast[1], now))
            cycles = self.meter.feed(block)
            last_sample = self.meter.last_sample_t
            self._apply(self.core.observe_metering(cycles, last_sample if last_sample is not None else now, now))
            for cycle in cycles:
                self._watch_load_side(cycle.load_vrms)
                rise = self.site.observe(cycle, now)
                if rise is not None:
                    self.interface.publish(_site_values(rise))
                self.energy.add(cycle.power_w, cycle.duration)
                second = self.seconds.push(cycle)
                if second is not None:
                    self._latest = second
            if fast is not None:
                self._watch_mains(fast[0])
            self.store.save_if_due(self.energy.milli_wh)

    def _watch_mains(self, vrms: float) -> None:
        """Save the register the moment mains fails, and again for the windows that were
        still open then (the supply's hold-up time covers those few commits)."""
        assert self.store is not None
        present = vrms >= MAINS_LOST_V
        if self._mains_present and not present:
            log.warning("mains lost (%.0f V): saving the energy register", vrms, extra=fields(FAULT="mains-lost"))
        if not present:
            self.store.save(self.energy.milli_wh)  # writes only when the register moved
        self._mains_present = present

    def _watch_load_side(self, vrms: float) -> None:
        """Voltage after the contactor, with hysteresis, published the cycle it changes."""
        live = self.interface.values["LoadLive"]
        if (not live and vrms > LOAD_LIVE_V) or (live and vrms < LOAD_DEAD_V):
            self.interface.publish({"LoadLive": not live})

    async def _watch_input(self, line: DigitalInput, observe: Any) -> None:
        while True:
            edge = await line.wait_edge()
            self._apply(observe(line.value(), edge.timestamp))

    async def _temperature_loop(self) -> None:
        assert self.hw is not None
        while True:
            try:
                self._temperature = self.hw.temperature.read_celsius()
            except HalError as exc:
                log.error("temperature sensor: %s", exc, extra=fields(FAULT="temperature-sensor"))
                self._temperature = math.nan
            else:
                self._apply(self.core.observe_temperature(self._temperature, time.monotonic()))
            await asyncio.sleep(TEMPERATURE_S)

    async def _publish_loop(self) -> None:
        sequence = 0
        while True:
            await asyncio.sleep(PUBLISH_S)
            sequence = (sequence + 1) % 2**32
            values: dict[str, Any] = {"Sequence": sequence, "EnergyWh": round(self.energy.total_wh, 3),
                                      "Temperature": self._temperature}  # fmt: skip
            m = self._latest
            if m is not None:
                values.update(
                    Voltage=round(m.vrms, 2), Current=round(m.irms, 3), Power=round(m.power_w, 1),
                    ApparentPower=round(m.apparent_va, 1), PowerFactor=round(m.power_factor, 3),
                    Frequency=math.nan if m.frequency_hz is None else round(m.frequency_hz, 3),
                    NpeVoltage=round(m.npe_vrms, 2), LoadVoltage=round(m.load_vrms, 2),
                    SiteCurrent=round(m.site_irms, 3),
                )  # fmt: skip
            site = self.site.take(time.monotonic())
            if site is not None:
                values.update(_site_values(site))
            self.interface.publish(values)

    # --- what others ask ----------------------------------------------------------------
    def _charger_changed(self, props: dict[str, Any] | None) -> None:
        """From the charger: its offered current is the protection's Imax (gone → hardware
        maximum), and its pilot state tells plug-in and unplug (RCD and over-current rules).

        A charger that dies (kill -9, crash) may leave its contactor request line high, so
        PERMIT goes low until it is back on the bus; a meter started without any charger
        (bench, meter-only tests) is not held."""
        now = time.monotonic()
        if props is None:
            if self._seen_charger and not self._charger_lost:
                log.error("charge control left the bus: PERMIT low until it is back",
                          extra=fields(FAULT="charger-lost"))  # fmt: skip
                self._charger_lost = True
            self._apply(self.core.set_offered_current(None, now))
            return
        if self._charger_lost:
            log.info("charge control is back: PERMIT released", extra=fields(FAULT="charger-lost"))
        self._seen_charger, self._charger_lost = True, False
        if "OfferedCurrent" in props:
            offered = props["OfferedCurrent"]  # NaN: nothing offered (paused)
            self._apply(self.core.set_offered_current(0.0 if math.isnan(offered) else offered, now))
        pilot = props.get("Pilot")
        if pilot in PLUGGED_PILOT:
            self._apply(self.core.observe_plug(True, now))
        elif pilot == "A":
            self._apply(self.core.observe_plug(False, now))

    def self_test_rcd(self) -> None:
        self._apply(self.core.request_rcd_selftest(time.monotonic()))

    def clear_faults(self) -> tuple[list[str], list[str]]:
        result = self.core.clear_faults(time.monotonic())
        cleared = sorted(f.value for f in result.cleared)
        refused = [f"{fault.value}: {reason}" for fault, reason in result.refused.items()]
        if self._hold is not None:
            log.warning("PERMIT hold cleared by an operator (was: %s)", self._hold, extra=fields(FAULT="hold"))
            assert self.store is not None
            self.store.save_hold(None)
            self._hold = None
            cleared.append("hold")
        self._apply(result.decision)
        return cleared, refused

    def calibration(self) -> dict[str, tuple[float, str]]:
        return dict(self.calibration_readout)

    def hold_permit(self, reason: str) -> None:
        """PERMIT low at once, then the hold made durable before the call returns: a
        restart (kill -9 included) must not release a welded contactor's socket."""
        if not reason:
            raise InvalidState("a PERMIT hold needs a reason")
        if self._hold is None:
            log.error("PERMIT held low at the charger's request: %s", reason, extra=fields(FAULT="hold"))
        self._hold = reason
        assert self.hw is not None and self.store is not None
        self.hw.permit.set(False)
        self.store.save_hold(reason)
        if self._decision is not None:
            self.interface.publish(self._fault_properties(self._decision))
