"""A physical model of everything the board's pins see, as pure state.

The plant service feeds it commands (from `evnetctl sim ...`), the outputs the daemons
drive (PWM duty, PERMIT, contactor request, lock motor, RCD test), and the time; it
answers with the quantities the inputs would read. It never reads the clock itself, so
the physics is unit-testable with a fake clock.

Every change the daemons cause is recorded with its time in ``events``: latency tests
measure the real path (fault injected here → PERMIT low seen here).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from evnetd.iec61851.duty import current_for_duty

# Pilot levels seen at the EVSE for each EV state (positive half; IEC 61851-1 nominal).
_CP_HIGH = {"A": 12.0, "B": 9.0, "C": 6.0, "D": 3.0, "E": 0.0}
# PP–PE resistance of a Type 2 cable per rating (ohms); no plug = open.
PP_OHMS = {13: 1500.0, 20: 680.0, 32: 220.0, 63: 100.0}
PP_OPEN_OHMS = 1.0e6

EV_REACTION_S = 0.3  # the EV's on-board charger reacts to a new duty after this
EV_RAMP_A_PER_S = 32.0  # ramps to 32 A in about a second
EV_CURRENT_EVENT_A = 0.5  # the event log notes the EV current in steps of this
CONTACTOR_MOVE_S = 0.02  # coil to mirror contact
LOCK_MOVE_S = 0.2
CARD_HOLD_S = 2.0
THERMAL_TAU_S = 120.0
THERMAL_RISE_AT_32A_C = 30.0
OVERTEMP_FAULT_C = 85.0
PEN_FAULT_V = 120.0
NPE_NORMAL_V = 1.0


class Fault(enum.Enum):
    """Faults that can be injected (names as in DESIGN.md §8)."""

    RCD_AC = "rcd-ac"
    RCD_DC = "rcd-dc"
    PEN = "pen"
    OVERTEMP = "overtemp"
    TAMPER = "tamper"
    LOCK_JAM = "lock-jam"
    WELD = "weld"
    DIODE = "diode"
    CP_SHORT = "cp-short"
    ADC_SILENT = "adc-silent"
    EV_OVERDRAW = "ev-overdraw"  # a faulty EV that draws its maximum whatever the duty says


class Output(enum.Enum):
    """Board outputs the daemons drive (DESIGN.md §3)."""

    PERMIT = "permit"
    CONTACTOR = "contactor"
    LOCK_A = "lock_a"
    LOCK_B = "lock_b"
    RCD_TEST = "rcd_test"
    BUZZER = "buzzer"


class PlantError(ValueError):
    """A command the plant cannot carry out; the message says which argument and why."""


EV_STATES = ("A", "B", "C", "D", "E")
CABLE_RATINGS = tuple(PP_OHMS)


@dataclass
class Event:
    time: float
    name: str
    value: str


@dataclass
class PlantModel:
    """State of the simulated world; quantities are read through the properties."""

    grid_voltage_v: float = 230.0
    grid_frequency_hz: float = 50.0
    ev_max_a: float = 32.0
    ev_ramp_a_per_s: float = EV_RAMP_A_PER_S
    ambient_c: float = 25.0
    tethered: bool = False
    plugged: bool = False
    cable_a: int = 32
    ev_state: str = "A"
    site_a: float = 0.0
    solar_a: float = 0.0
    pwm_duty: float = 1.0
    outputs: dict[Output, bool] = field(default_factory=lambda: dict.fromkeys(Output, False))
    faults: set[Fault] = field(default_factory=set)
    ev_current_a: float = 0.0
    temperature_c: float = 25.0
    temperature_override_c: float | None = None
    contactor_closed: bool = False
    locked: bool = False
    card: str = ""
    led: tuple[int, int, int, float, float] = (0, 0, 0, 0.0, 0.0)
    events: list[Event] = field(default_factory=list)
    _duty_seen_at: float = 0.0
    _contactor_move_at: float | None = None
    _lock_move_at: float | None = None
    _card_until: float = 0.0
    _last_step: float | None = None
    _recorded_current: float = 0.0

    # --- commands -------------------------------------------------------------------
    def plug(self, now: float, cable_a: int = 32) -> None:
        if cable_a not in CABLE_RATINGS:
            raise PlantError(f"cable {cable_a} A: must be one of {', '.join(map(str, CABLE_RATINGS))}")
        self.plugged, self.cable_a, self.ev_state = True, cable_a, "B"
        self._record(now, "plug", str(cable_a))

    def unplug(self, now: float) -> None:
        self.plugged, self.ev_state = False, "A"
        self._record(now, "unplug", "")

    def set_ev_state(self, now: float, state: str) -> None:
        if state not in EV_STATES:
            raise PlantError(f"EV state {state!r}: must be one of {', '.join(EV_STATES)}")
        if state != "A" and not self.plugged:
            raise PlantError(f"EV state {state}: no plug inserted (use 'sim plug' first)")
        if state == "A":
            self.plugged = False
        self.ev_state = state
        self._record(now, "ev-state", state)

    def set_ev_max(self, now: float, amps: float) -> None:
        if not 0 <= amps <= 80:
            raise PlantError(f"EV maximum {amps} A: must be 0–80 A")
        self.ev_max_a = amps
        self._record(now, "ev-max", f"{amps:g}")

    def set_grid(self, now: float, voltage_v: float, frequency_hz: float | None = None) -> None:
        if not 0 <= voltage_v <= 400:
            raise PlantError(f"grid voltage {voltage_v} V: must be 0–400 V")
        if frequency_hz is not None and not 40 <= frequency_hz <= 70:
            raise PlantError(f"grid frequency {frequency_hz} Hz: must be 40–70 Hz")
        self.grid_voltage_v = voltage_v
        if frequency_hz is not None:
            self.grid_frequency_hz = frequency_hz
        self._record(now, "grid", f"{voltage_v:g}V {self.grid_frequency_hz:g}Hz")

    def set_site(self, now: float, amps: float) -> None:
        if not 0 <= amps <= 200:
            raise PlantError(f"site current {amps} A: must be 0–200 A")
        self.site_a = amps
        self._record(now, "site", f"{amps:g}")

    def set_solar(self, now: float, amps: float) -> None:
        if not 0 <= amps <= 200:
            raise PlantError(f"solar current {amps} A: must be 0–200 A")
        self.solar_a = amps
        self._record(now, "solar", f"{amps:g}")

    def set_temperature(self, now: float, celsius: float | None) -> None:
        """Force the board temperature (None: back to the thermal model)."""
        if celsius is not None and not -40 <= celsius <= 150:
            raise PlantError(f"temperature {celsius} °C: must be -40–150 °C")
        self.temperature_override_c = celsius
        self._record(now, "temperature", "model" if celsius is None else f"{celsius:g}")

    def present_card(self, now: float, uid: str) -> None:
        try:
            raw = bytes.fromhex(uid)
        except ValueError:
            raise PlantError(f"card UID {uid!r}: must be hexadecimal") from None
        if len(raw) not in (4, 7, 10):
            raise PlantError(f"card UID {uid!r}: must be 4, 7 or 10 bytes")
        self.card, self._card_until = raw.hex().upper(), now + CARD_HOLD_S
        self._record(now, "rfid", self.card)

    def set_fault(self, now: float, name: str, on: bool) -> None:
        try:
            fault = Fault(name)
        except ValueError:
            names = ", ".join(f.value for f in Fault)
            raise PlantError(f"fault {name!r}: must be one of {names}") from None
        if on:
            self.faults.add(fault)
        else:
            self.faults.discard(fault)
        self._record(now, f"fault:{fault.value}", "on" if on else "off")

    # --- what the daemons drive -------------------------------------------------------
    def set_output(self, now: float, name: str, value: bool) -> None:
        try:
            output = Output(name)
        except ValueError:
            names = ", ".join(o.value for o in Output)
            raise PlantError(f"output {name!r}: must be one of {names}") from None
        if self.outputs[output] == value:
            return
        self.outputs[output] = value
        self._record(now, output.value, "1" if value else "0")
        if output in (Output.PERMIT, Output.CONTACTOR):
            self._contactor_move_at = now + CONTACTOR_MOVE_S
        elif output in (Output.LOCK_A, Output.LOCK_B) and value:
            self._lock_move_at = now + LOCK_MOVE_S

    def set_pwm_duty(self, now: float, duty: float) -> None:
        if not 0.0 <= duty <= 1.0:
            raise PlantError(f"PWM duty {duty}: must be 0.0–1.0")
        if duty != self.pwm_duty:
            self.pwm_duty, self._duty_seen_at = duty, now + EV_REACTION_S
            self._record(now, "pwm", f"{duty:.4f}")

    def set_led(self, now: float, led: tuple[int, int, int, float, float]) -> None:
        """Colour, brightness and blink period the charger shows on the ring."""
        if led != self.led:
            self.led = led
            self._record(now, "led", " ".join(f"{v:g}" for v in led))

    # --- physics ----------------------------------------------------------------------
    def step(self, now: float) -> None:
        """Advance the world to ``now``."""
        dt = 0.0 if self._last_step is None else max(0.0, now - self._last_step)
        self._last_step = now
        self._move_contactor(now)
        self._move_lock(now)
        if self.card and now >= self._card_until:
            self.card = ""
        self._draw_current(now, dt)
        rise = THERMAL_RISE_AT_32A_C * (self.ev_current_a / 32.0) ** 2
        target = self.ambient_c + rise
        self.temperature_c += (target - self.temperature_c) * (1 - math.exp(-dt / THERMAL_TAU_S))

    def _move_contactor(self, now: float) -> None:
        if self._contactor_move_at is None or now < self._contactor_move_at:
            return
        self._contactor_move_at = None
        coil = self.outputs[Output.PERMIT] and self.outputs[Output.CONTACTOR]
        if not coil and self.contactor_closed and Fault.WELD in self.faults:
            return  # welded: the contacts stay together
        if coil != self.contactor_closed:
            self.contactor_closed = coil
            self._record(now, "contactor-closed", "1" if coil else "0")

    def _move_lock(self, now: float) -> None:
        if self._lock_move_at is None or now < self._lock_move_at:
            return
        self._lock_move_at = None
        if Fault.LOCK_JAM in self.faults:
            return
        if self.outputs[Output.LOCK_A] != self.outputs[Output.LOCK_B]:
            locked = self.outputs[Output.LOCK_A]
            if locked != self.locked:
                self.locked = locked
                self._record(now, "locked", "1" if locked else "0")

    def _draw_current(self, now: float, dt: float) -> None:
        target = 0.0
        charging = self.ev_state in ("C", "D") and self.plugged
        if charging and self.contactor_closed and self.grid_voltage_v > 100:
            offered = current_for_duty(self.pwm_duty) if now >= self._duty_seen_at else None
            if offered is None and now < self._duty_seen_at:
                offered = self.ev_current_a  # still reacting to the last change
            target = min(offered or 0.0, self.ev_max_a, float(self.cable_a))
            if Fault.EV_OVERDRAW in self.faults:
                target = self.ev_max_a
        if target >= self.ev_current_a:
            self.ev_current_a = min(target, self.ev_current_a + self.ev_ramp_a_per_s * dt)
        else:
            self.ev_current_a = target  # an EV stops at once when power goes
        if abs(self.ev_current_a - self._recorded_current) >= EV_CURRENT_EVENT_A or (
            self.ev_current_a == target and self.ev_current_a != self._recorded_current
        ):
            self._recorded_current = self.ev_current_a
            self._record(now, "ev-current", f"{self.ev_current_a:.2f}")

    # --- what the inputs read ---------------------------------------------------------
    @property
    def cp_high_v(self) -> float:
        if self.pwm_duty == 0.0:
            return -12.0  # state F: the EVSE drives −12 V
        if Fault.CP_SHORT in self.faults:
            return 0.0
        return _CP_HIGH[self.ev_state if self.plugged else "A"]

    @property
    def cp_low_v(self) -> float:
        high = self.cp_high_v
        if self.pwm_duty in (0.0, 1.0) or Fault.CP_SHORT in self.faults:
            return high  # no negative half without PWM (or with CP shorted)
        if Fault.DIODE in self.faults and self.plugged:
            return -high  # no diode: the EV resistor loads the negative half too
        return -12.0

    @property
    def pp_ohms(self) -> float:
        return PP_OHMS[self.cable_a] if self.plugged else PP_OPEN_OHMS

    @property
    def rcd_fault(self) -> bool:
        leak = Fault.RCD_AC in self.faults or Fault.RCD_DC in self.faults
        return leak or self.outputs[Output.RCD_TEST]

    @property
    def tamper(self) -> bool:
        return Fault.TAMPER in self.faults

    @property
    def adc_silent(self) -> bool:
        return Fault.ADC_SILENT in self.faults

    @property
    def npe_v(self) -> float:
        return PEN_FAULT_V if Fault.PEN in self.faults else NPE_NORMAL_V

    @property
    def load_v(self) -> float:
        return self.grid_voltage_v if self.contactor_closed else 0.0

    @property
    def board_temperature_c(self) -> float:
        if Fault.OVERTEMP in self.faults:
            return OVERTEMP_FAULT_C
        if self.temperature_override_c is not None:
            return self.temperature_override_c
        return self.temperature_c

    def _record(self, now: float, name: str, value: str) -> None:
        self.events.append(Event(now, name, value))
        del self.events[:-2000]
