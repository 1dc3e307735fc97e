"""evnet-energy: the shell around the energy policies.

It follows the meter (signed site CT current, this charger's own current) and charge
control (status, limits, session) on the bus, talks to the other chargers on the CAN bus,
feeds the pure policies with ``time.monotonic()`` and the local wall clock, and sends the
result to charge control as the ``site`` (protective caps) and ``energy`` (the owner's
choices) limits.

The limit is leased: it is sent with an expiry of ``LEASE_S`` and refreshed every
``REFRESH_S``, so if this service dies or hangs, charge control falls back on its own to
``min(last limit, fallback)`` (DESIGN.md §5) instead of running on at a stale value. A
rise of the house load reaches us within a few mains cycles (the meter publishes a rising
site current at once), and the control loop, woken by it, decides and sends at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import random
import time
from typing import TYPE_CHECKING, Any

from dbus_fast.aio import MessageBus

from evnetd.bus.client import call as bus_call
from evnetd.bus.client import watch_service
from evnetd.bus.connection import connect
from evnetd.bus.errors import NotAvailable
from evnetd.bus.names import CHARGER, ENERGY, METER
from evnetd.charger.settings import SettingsStore
from evnetd.energy.decision import Decision
from evnetd.energy.interface import EnergyInterface, settings_variants
from evnetd.energy.policy import Inputs, combine, solar_mode_for
from evnetd.energy.schedule import Schedule, ScheduleAction, ScheduleSettings
from evnetd.energy.settings import as_dict, dumps, from_config, loads, validate
from evnetd.energy.site import SiteLimiter, SiteSettings
from evnetd.energy.solar import SolarController, SolarMode, SolarSettings
from evnetd.energy.windows import parse_period, parse_window
from evnetd.limits.arbitration import DEFAULT_HARDWARE_A
from evnetd.runtime.config import Config
from evnetd.runtime.daemon import cancel_tasks, essential, wait_event
from evnetd.runtime.log import fields

if TYPE_CHECKING:
    from evnetd.energy.sharing_link import SharingLink

log = logging.getLogger("evnet.energy")

LEASE_S = 5.0  # the energy limit lapses this long after our last refresh
REFRESH_S = 1.0
IDLE_STEP_S = 1.0  # at least this often the policies are evaluated (timers, schedule edges)
SOLAR_MODES = {"normal": SolarMode.OFF, "solar": SolarMode.SOLAR, "solar-min": SolarMode.SOLAR_MIN}
NO_CAP = Decision(amps=math.inf, reason="no cap", source="none")  # no CT fitted; the owner's part alone


class EnergyService:
    name = "evnet-energy"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.interface = EnergyInterface(self)
        self.bus: MessageBus | None = None
        self.meter: dict[str, Any] = {}
        self.charger: dict[str, Any] = {}
        self.sharing: SharingLink | None = None
        self._rng = random.Random()
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._loop_turned = time.monotonic()
        self._sent: dict[str, tuple[float, float]] = {}  # source → (amps, when)
        self._last_logged: tuple[str, bool, float] | None = None

    # --- life cycle -----------------------------------------------------------------------
    async def start(self) -> None:
        state = self.config.general.state_dir
        self.store = SettingsStore(state / "energy.db")
        self.owner = loads(self.store.get("owner", "{}"), from_config(self.config.energy))
        self._build_policies()
        self.bus = await connect(self.config.general.bus_address)
        self.bus.export(ENERGY.path, self.interface)
        await self.bus.request_name(ENERGY.bus_name)
        self._publish_settings()
        await watch_service(self.bus, METER, self._meter_changed)
        await watch_service(self.bus, CHARGER, self._charger_changed)
        await self._configure_sharing()
        self._tasks = [essential(asyncio.get_running_loop().create_task(self._control_loop(), name="control"))]

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        if self.sharing is not None:
            await self.sharing.close()
        if self.bus:
            with contextlib.suppress(Exception):
                for source in ("energy", "site"):
                    await bus_call(self.bus, CHARGER, "ClearLimit", "s", [source])
            self.bus.disconnect()
        self.store.close()

    def healthy(self) -> bool:
        return time.monotonic() - self._loop_turned < 5.0

    def status_line(self) -> str:
        v = self.interface.values
        return f"{v['Mode']}: {v['Reason']}"

    # --- settings -------------------------------------------------------------------------
    def _build_policies(self) -> None:
        """Policies from the owner's settings and the installer's config; called again on a
        change of settings (the policies' timers restart: a new mode starts fresh)."""
        owner, energy = self.owner, self.config.energy
        self.site = SiteLimiter(SiteSettings(
            main_fuse_a=owner.main_fuse_a, margin_a=owner.margin_a,
            stale_after_s=energy.stale_after_s, safe_current_a=owner.safe_current_a or None,
            raise_delay_s=energy.raise_delay_s,
        ))  # fmt: skip
        self.solar = SolarController(SolarSettings(
            mode=SOLAR_MODES[owner.mode], start_surplus_a=energy.solar_start_surplus_a,
            start_delay_s=owner.solar_start_delay_s, stop_delay_s=owner.solar_stop_delay_s,
            import_allowance_a=energy.solar_import_allowance_a, min_on_s=energy.solar_min_on_s,
            min_off_s=energy.solar_min_off_s, stale_after_s=energy.stale_after_s,
        ))  # fmt: skip
        self.schedule = Schedule(ScheduleSettings(
            default=ScheduleAction(owner.default), windows=tuple(parse_window(line) for line in owner.windows),
            cheap=tuple(parse_period(line) for line in owner.cheap), cheap_only=owner.cheap_only,
            random_delay_max_s=owner.random_delay_max_s,
        ), self._rng)  # fmt: skip

    def change_settings(self, changes: dict[str, Any]) -> None:
        """ChangeSettings: all or nothing (validate raises SettingError before anything changes)."""
        updated = validate(self.owner, changes)
        if updated == self.owner:
            return
        self.store.set("owner", dumps(updated))
        sharing_changed = updated.sharing != self.owner.sharing
        self.owner = updated
        self._build_policies()
        self._feed_measurements()
        self._publish_settings()
        log.info("settings changed: %s", ", ".join(f"{k}={v!r}" for k, v in changes.items()))
        if sharing_changed:
            task = asyncio.ensure_future(self._configure_sharing())
            task.add_done_callback(lambda _: self._wake.set())
        self._wake.set()

    def _publish_settings(self) -> None:
        self.interface.publish({"Mode": self.owner.mode, "Settings": settings_variants(as_dict(self.owner))})

    async def _configure_sharing(self) -> None:
        from evnetd.energy.sharing_link import SharingLink  # python-can only when sharing is on

        if self.owner.sharing and self.sharing is None:
            self.sharing = SharingLink(self.config, self._wake.set)
            await self.sharing.open()
        elif not self.owner.sharing and self.sharing is not None:
            await self.sharing.close()
            self.sharing = None

    # --- what the others say --------------------------------------------------------------
    def _meter_changed(self, props: dict[str, Any] | None) -> None:
        if props is None:
            self.meter = {}
            return
        self.meter.update(props)
        if "SiteActiveCurrent" in props or "Sequence" in props:
            self._feed_measurements()
            self._wake.set()

    def _feed_measurements(self) -> None:
        site, own = self.meter.get("SiteActiveCurrent", math.nan), self.meter.get("EvActiveCurrent", math.nan)
        if not (isinstance(site, float) and math.isfinite(site)):
            return
        own = own if math.isfinite(own) else 0.0
        now = time.monotonic()
        self.site.observe(now, site, own)
        self.solar.observe(now, site, own)
        self.interface.publish({"SiteCurrent": round(site, 2), "HouseCurrent": round(site - own, 2),
                                "Surplus": round(max(0.0, own - site), 2)})  # fmt: skip

    def _charger_changed(self, props: dict[str, Any] | None) -> None:
        if props is None:
            self.charger, self._sent = {}, {}
            return
        self.charger.update(props)
        if props.keys() & {"Status", "Limits", "Pilot"}:
            self._wake.set()

    def demand_a(self) -> float:
        """What this charger could use now, for the sharing group: its other limits' minimum
        while an EV wants charge (our own pause included: SuspendedEVSE), else nothing."""
        if self.charger.get("Status") not in ("Charging", "SuspendedEVSE"):
            return 0.0
        limits = self.charger.get("Limits", {})
        others = [amps for source, amps in limits.items() if source not in ("energy", "site")]  # not our own
        return min(others, default=DEFAULT_HARDWARE_A)

    # --- deciding -------------------------------------------------------------------------
    async def _control_loop(self) -> None:
        while True:
            self._loop_turned = time.monotonic()
            deadline = self._step()
            timeout = IDLE_STEP_S if deadline is None else max(0.02, min(IDLE_STEP_S, deadline - time.monotonic()))
            self._wake.clear()
            await wait_event(self._wake, timeout)

    def decide(self, now: float) -> tuple[Decision, dict[str, float]]:
        """The combined decision (what we show) and the two limits we send: ``site`` for the
        protective caps (fuse, sharing group), ``energy`` for the owner's choices (solar,
        schedule). Charge control may keep an EV awake at 6 A against the second, never
        against the first (evnetd.limits.arbitration)."""
        site = self.site.decide(now) if self.config.energy.site_ct else NO_CAP
        schedule = self.schedule.decide(dt.datetime.now(), now)
        mode = SOLAR_MODES[self.owner.mode]
        solar = self.solar.decide(now, solar_mode_for(mode, schedule))
        local = Inputs(site=site, solar=solar, schedule=schedule, solar_mode=mode)
        decision = combine(local)
        choice = combine(dataclasses.replace(local, site=NO_CAP))
        sharing = None
        if self.sharing is not None:
            # the group hears what we could use after our own rules: a charger paused by its
            # schedule or waiting for sun must not hold a share the others could use
            demand = min(self.demand_a(), decision.amps or 0.0)
            self.sharing.update(now, self.charger.get("Status", ""), demand)
            sharing = self.sharing.decide(now)
            decision = combine(dataclasses.replace(local, sharing=sharing))
        self.interface.publish({
            "ScheduleAllowed": schedule.allowed, "Cheap": schedule.cheap, "SolarRunning": self.solar.running,
            "SharingState": "off" if self.sharing is None else self.sharing.state(now),
            "Allocation": {} if self.sharing is None else self.sharing.allocation(now),
        })  # fmt: skip
        limits = {"site": min(_amps(site), _amps(sharing)), "energy": _amps(choice)}
        return decision, {source: min(amps, DEFAULT_HARDWARE_A) for source, amps in limits.items()}

    def _step(self) -> float | None:
        """Decide now, publish, and send the limits that changed or whose lease needs renewing.
        Returns the next deadline of the policies (None: only new input can change it)."""
        now = time.monotonic()
        decision, limits = self.decide(now)
        amps = _amps(decision)
        self.interface.publish({
            "Limit": amps if math.isfinite(amps) else math.nan, "Paused": decision.amps is None,
            "Reason": decision.reason, "Source": decision.source,
        })  # fmt: skip
        # the journal gets a line when the rule in control or the whole amps change, not for
        # every tenth of an amp the surplus moves (the property has those)
        summary = (decision.source, decision.amps is None, round(amps) if math.isfinite(amps) else amps)
        if summary != self._last_logged:
            log.info("limit %s: %s", "pause" if decision.amps is None else f"{amps:.1f} A", decision.reason,
                     extra=fields(ENERGY_SOURCE=decision.source))  # fmt: skip
            self._last_logged = summary
        for source, value in limits.items():
            self._send(source, value, now)
        return decision.next_change

    def _send(self, source: str, amps: float, now: float) -> None:
        if self.bus is None or not self.charger:
            return
        sent = self._sent.get(source)
        if sent is not None and sent[0] == amps and now - sent[1] < REFRESH_S:
            return
        self._sent[source] = (amps, now)
        task = asyncio.ensure_future(self._set_limit(source, amps))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _set_limit(self, source: str, amps: float) -> None:
        assert self.bus is not None
        try:
            await bus_call(self.bus, CHARGER, "SetLimit", "sdd", [source, amps, LEASE_S])
        except NotAvailable:
            self._sent.pop(source, None)
        except Exception as exc:
            log.warning("charge control refused the %s limit %.1f A: %s", source, amps, exc)
            self._sent.pop(source, None)


def _amps(decision: Decision | None) -> float:
    """A decision's amps with a pause as 0 (None: no such policy, no cap)."""
    if decision is None:
        return math.inf
    return 0.0 if decision.amps is None else decision.amps
