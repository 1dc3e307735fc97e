"""The daemons `evnetd <name>` can run, in start order, imported only when chosen."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from evnetd.runtime.config import Config
from evnetd.runtime.daemon import Service


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    unit: str  # systemd unit / syslog identifier
    target: str  # "module:Class" taking the Config
    help: str

    def factory(self) -> Callable[[Config], Service]:
        module, cls = self.target.split(":")
        return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


SERVICES: dict[str, ServiceEntry] = {
    entry.name: entry
    for entry in (
        ServiceEntry("plant", "evnet-sim", "evnetd.plant.service:PlantService",
                     "the plant simulator (simulated board, EV, grid, house)"),
        ServiceEntry("meter", "evnet-meter", "evnetd.meter.service:MeterService",
                     "the metering/protection service"),
        ServiceEntry("charger", "evnet-charger", "evnetd.charger.service:ChargerService",
                     "the charge-control service"),
        ServiceEntry("ocpp", "evnet-ocpp", "evnetd.ocpp.service:OcppService",
                     "the OCPP 1.6J uplink"),
        ServiceEntry("energy", "evnet-energy", "evnetd.energy.service:EnergyService",
                     "energy management (site fuse, solar, schedules, CAN sharing)"),
        ServiceEntry("web", "evnet-web", "evnetd.web.service:WebService",
                     "the web client and app API"),
    )
}  # fmt: skip
SIMULATED_STACK = tuple(name for name in SERVICES if name != "web")
"""What `evnetd sim` always runs, in start order; the web service only with ``--web``."""
