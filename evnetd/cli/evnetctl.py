"""`evnetctl`: the operator's command line, over D-Bus.

Talks to the private simulation bus when $EVNET_BUS (or --bus) is set, else to the
system bus. Every failure is one line on stderr and a non-zero exit status:
2 for a bad command line, 1 for a refused or failed request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from datetime import datetime
from typing import Any

from dbus_fast import DBusError, Variant
from dbus_fast.aio import MessageBus

from evnetd.bus.client import call, get_all, unwrap
from evnetd.bus.connection import connect
from evnetd.bus.errors import NotAvailable
from evnetd.bus.names import CHARGER, ENERGY, METER, OCPP, PLANT, Endpoint
from evnetd.charger.faultlog import HISTORY_SIZE
from evnetd.charger.settings import SIGNATURES as CHARGER_SETTINGS
from evnetd.cli.args import OneLineParser
from evnetd.energy.settings import SIGNATURES
from evnetd.hal.errors import DeviceNotFoundError
from evnetd.plant.model import CABLE_RATINGS, EV_STATES, Fault
from evnetd.status import compose_status, format_status

STATUS_TIMEOUT_S = 2.0


def _amps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of amperes") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite value ≥ 0")
    return value


LEARN_S = 30.0  # `tokens learn` without a time


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="evnetctl", description="control an EVNET charger")
    p.add_argument("--bus", help="D-Bus address (default: $EVNET_BUS, else the system bus)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    status = sub.add_parser("status", help="charger status")
    status.add_argument("--json", action="store_true", help="one JSON object")
    faults = sub.add_parser("faults", help="active faults")
    faults.add_argument("--history", action="store_true", help="past and active faults, newest first")
    settings = sub.add_parser("settings", help="the charger's settings: all, one, or set one")
    settings.add_argument("key", nargs="?", help="setting name")
    settings.add_argument("value", nargs="?", help="new value")
    tokens = sub.add_parser("tokens", help="the RFID cards of auth mode rfid").add_subparsers(
        dest="tokens_command", metavar="add|remove|learn"
    )
    add = tokens.add_parser("add", help="add a card (or relabel one)")
    add.add_argument("uid", help="4, 7 or 10 bytes in hex")
    add.add_argument("label", nargs="?", default="")
    tokens.add_parser("remove", help="remove a card").add_argument("uid")
    learn = tokens.add_parser("learn", help="add the next card presented at the charger")
    learn.add_argument("seconds", nargs="?", type=float, default=LEARN_S, help=f"at most (default {LEARN_S:g})")
    start = sub.add_parser("start", help="start a session (remote start)")
    start.add_argument("--id-tag", default="", help="the id tag to start with")
    sub.add_parser("stop", help="stop the session")
    sub.add_parser("unlock", help="unlock the connector")
    limit = sub.add_parser("limit", help="user current limit (A, 1 A steps)")
    limit.add_argument("amps", type=_amps)
    sub.add_parser("clear-faults", help="clear latched faults whose cause is gone")
    ocpp = sub.add_parser("ocpp", help="the OCPP link").add_subparsers(dest="ocpp_command", required=True,
                                                                        metavar="OCPP_COMMAND")  # fmt: skip
    config = ocpp.add_parser("config", help="read all keys, one key, or set one (as a CSMS would)")
    config.add_argument("key", nargs="?", help="configuration key")
    config.add_argument("value", nargs="?", help="new value")

    energy = sub.add_parser("energy", help="energy management: decision, reason and settings")
    energy.add_argument("--json", action="store_true")
    energy_sub = energy.add_subparsers(dest="energy_command", metavar="set")
    energy_set = energy_sub.add_parser("set", help="change a setting (windows/cheap: one argument per line)")
    energy_set.add_argument("key")
    energy_set.add_argument("values", nargs="*", metavar="VALUE")
    sim = sub.add_parser("sim", help="drive the plant simulator").add_subparsers(
        dest="verb", required=True, metavar="VERB"
    )
    plug = sim.add_parser("plug", help="insert the plug and connect the EV (state B)")
    plug.add_argument("--cable", type=int, default=32, choices=CABLE_RATINGS, metavar="AMPS")
    sim.add_parser("unplug", help="remove the plug")
    ev_state = sim.add_parser("ev-state", help="the EV's pilot state")
    ev_state.add_argument("state", choices=EV_STATES)
    ev_max = sim.add_parser("ev-max", help="the most the EV draws")
    ev_max.add_argument("amps", type=_amps)
    rfid = sim.add_parser("rfid", help="present a card")
    rfid.add_argument("uid")
    grid = sim.add_parser("grid", help="mains voltage and frequency")
    grid.add_argument("--voltage", type=float, required=True, metavar="V")
    grid.add_argument("--frequency", type=float, default=0.0, metavar="HZ")
    site = sim.add_parser("site", help="house load on the site CT clamp")
    site.add_argument("--current", type=_amps, required=True, metavar="A")
    solar = sim.add_parser("solar", help="solar export on the site CT clamp")
    solar.add_argument("--current", type=_amps, required=True, metavar="A")
    temp = sim.add_parser("temperature", help="force the board temperature ('model' to release)")
    temp.add_argument("celsius")
    fault = sim.add_parser("fault", help="inject or remove a fault")
    fault.add_argument("name", choices=[f.value for f in Fault])
    fault.add_argument("state", choices=["on", "off"])
    return p


def _sim_call(args: argparse.Namespace) -> tuple[str, str, list[Any]]:
    verb = args.verb
    if verb == "plug":
        return "Plug", "u", [args.cable]
    if verb == "unplug":
        return "Unplug", "", []
    if verb == "ev-state":
        return "SetEvState", "s", [args.state]
    if verb == "ev-max":
        return "SetEvMax", "d", [args.amps]
    if verb == "rfid":
        return "PresentCard", "s", [args.uid]
    if verb == "grid":
        return "SetGrid", "dd", [args.voltage, args.frequency]
    if verb == "site":
        return "SetSite", "d", [args.current]
    if verb == "solar":
        return "SetSolar", "d", [args.current]
    if verb == "temperature":
        celsius = math.nan if args.celsius == "model" else _celsius(args.celsius)
        return "SetTemperature", "d", [celsius]
    return "SetFault", "sb", [args.name, args.state == "on"]


def _celsius(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SystemExit(f"evnetctl: temperature {text!r}: a number of °C or 'model'") from None


async def _gather(bus: MessageBus) -> dict[str, dict[str, Any] | None]:
    """Properties of every service; None for those not running."""

    async def one(endpoint: Endpoint) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(STATUS_TIMEOUT_S):  # a hung service shows as absent
                return await get_all(bus, endpoint)
        except (NotAvailable, TimeoutError):
            return None

    names = ("plant", "meter", "charger", "ocpp", "energy")
    results = await asyncio.gather(*(one(e) for e in (PLANT, METER, CHARGER, OCPP, ENERGY)))
    return dict(zip(names, results, strict=True))


async def _run(args: argparse.Namespace) -> int:
    bus = await connect(args.bus)
    try:
        if args.command == "sim":
            member, signature, body = _sim_call(args)
            await call(bus, PLANT, member, signature, body)
        elif args.command == "status":
            status = compose_status(await _gather(bus))
            print(json.dumps(status) if args.json else format_status(status))
        elif args.command == "faults" and args.history:
            _print_fault_history(unwrap(await call(bus, CHARGER, "Faults", "u", [HISTORY_SIZE])))
        elif args.command == "faults":
            meter = await get_all(bus, METER)
            for fault in meter.get("ActiveFaults", []):
                print(fault)
        elif args.command == "settings":
            return await _settings(bus, args.key, args.value)
        elif args.command == "tokens":
            return await _tokens(bus, args)
        elif args.command == "clear-faults":
            cleared, refused = await call(bus, METER, "ClearFaults")
            for name in cleared:
                print(f"cleared {name}")
            for reason in refused:
                print(f"refused {reason}")
        elif args.command == "start":
            await call(bus, CHARGER, "StartSession", "s", [args.id_tag])
        elif args.command == "stop":
            await call(bus, CHARGER, "StopSession")
        elif args.command == "unlock":
            await call(bus, CHARGER, "Unlock")
        elif args.command == "limit":
            await call(bus, CHARGER, "SetUserLimit", "d", [args.amps])
        elif args.command == "ocpp":
            return await _ocpp_config(bus, args.key, args.value)
        elif args.command == "energy":
            return await _energy(bus, args)
    finally:
        bus.disconnect()
    return 0


async def _ocpp_config(bus: MessageBus, key: str | None, value: str | None) -> int:
    """``ocpp config``: list keys, show one, or change one (NotSupported/Rejected exit 1)."""
    if value is not None and key is not None:
        status = await call(bus, OCPP, "ChangeConfiguration", "ss", [key, value])
        print(status)
        return 0 if status in ("Accepted", "RebootRequired") else 1
    entries = await call(bus, OCPP, "GetConfiguration", "as", [[key] if key else []])
    if key and not entries:
        print(f"evnetctl: {key}: unknown configuration key", file=sys.stderr)
        return 1
    for name, readonly, text in entries:
        print(f"{name} = {text}{' (read-only)' if readonly else ''}")
    return 0


async def _energy(bus: MessageBus, args: argparse.Namespace) -> int:
    """``energy``: show what energy management decided and its settings; ``energy set``: change one."""
    if args.energy_command == "set":
        variant = _setting_variant(SIGNATURES.get(args.key, "d"), args.key, args.values)
        await call(bus, ENERGY, "ChangeSettings", "a{sv}", [{args.key: variant}])
        return 0
    props = await get_all(bus, ENERGY)
    if args.json:
        print(json.dumps(props))
        return 0
    limit = "pause" if props["Paused"] else "no cap" if math.isnan(props["Limit"]) else f"{props['Limit']:.1f} A"
    print(f"mode: {props['Mode']}\nlimit: {limit} ({props['Source']})\nreason: {props['Reason']}")
    for name in ("SiteCurrent", "HouseCurrent", "Surplus", "SolarRunning", "ScheduleAllowed", "Cheap",
                 "SharingState", "Allocation"):  # fmt: skip
        print(f"{name}: {props[name]}")
    for name, value in props["Settings"].items():
        print(f"  {name} = {value}")
    return 0


def _setting_variant(signature: str, key: str, values: list[str]) -> Variant:
    """Command-line words as the setting's D-Bus type; the service judges the value."""
    if signature == "as":
        return Variant("as", values)
    text = " ".join(values)
    if signature == "b":
        if text.lower() not in ("true", "false", "on", "off", "yes", "no", "1", "0"):
            raise SystemExit(f"evnetctl: {key}: {text!r}: must be true or false")
        return Variant("b", text.lower() in ("true", "on", "yes", "1"))
    if signature == "d":
        try:
            return Variant("d", float(text))
        except ValueError:
            raise SystemExit(f"evnetctl: {key}: {text!r}: must be a number") from None
    return Variant("s", text)


async def _settings(bus: MessageBus, key: str | None, value: str | None) -> int:
    """``settings``: all as ``name = value`` (TOML-like), one, or change one."""
    if key is not None and value is not None:
        variant = _setting_variant(CHARGER_SETTINGS.get(key, "s"), key, [value])
        await call(bus, CHARGER, "ChangeSettings", "a{sv}", [{key: variant}])
        return 0
    settings = (await get_all(bus, CHARGER))["Settings"]
    if key is not None and key not in settings:
        print(f"evnetctl: {key}: unknown setting (known: {', '.join(settings)})", file=sys.stderr)
        return 1
    for name, current in settings.items():
        if key in (None, name):
            print(f"{name} = {json.dumps(current, ensure_ascii=False)}")
    return 0


async def _tokens(bus: MessageBus, args: argparse.Namespace) -> int:
    """``tokens``: list the cards (UID, label); add, remove, or learn one."""
    if args.tokens_command == "add":
        await call(bus, CHARGER, "AddToken", "ss", [args.uid, args.label])
    elif args.tokens_command == "remove":
        await call(bus, CHARGER, "RemoveToken", "s", [args.uid])
    elif args.tokens_command == "learn":
        return await _learn_token(bus, args.seconds)
    else:
        for uid, label in (await get_all(bus, CHARGER))["Tokens"]:
            print(f"{uid}  {label}".rstrip())
    return 0


async def _learn_token(bus: MessageBus, seconds: float) -> int:
    """Learn the next card and print its UID; exit 1 if none came in time. Listens for
    TokenLearned through an introspected proxy (it subscribes before learning starts)."""
    learned: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_learned(uid: str) -> None:
        if not learned.done():
            learned.set_result(uid)

    proxy = bus.get_proxy_object(CHARGER.bus_name, CHARGER.path, await bus.introspect(CHARGER.bus_name, CHARGER.path))
    proxy.get_interface(CHARGER.interface).on_token_learned(on_learned)  # type: ignore[attr-defined]
    await call(bus, CHARGER, "LearnToken", "d", [seconds])
    if seconds <= 0:
        return 0  # learning stopped
    print(f"present a card at the charger within {seconds:g} s", file=sys.stderr)
    try:
        async with asyncio.timeout(seconds + 1.0):
            print(await learned)
    except TimeoutError:
        print(f"evnetctl: no card presented within {seconds:g} s", file=sys.stderr)
        return 1
    return 0


def _print_fault_history(records: list[dict[str, Any]]) -> None:
    """One line a fault: raised, cleared (or "active"), source, name, error code, info."""

    def when(unix: float) -> str:
        return datetime.fromtimestamp(unix).isoformat(sep=" ", timespec="seconds")

    for r in records:
        cleared = when(r["cleared_at"]) if r["cleared_at"] else "active"
        print(f"{when(r['raised_at'])}  {cleared:19}  {r['source']:7}  {r['fault']}  {r['error_code']}  {r['info']}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except (DBusError, DeviceNotFoundError) as exc:
        text = exc.text if isinstance(exc, DBusError) else str(exc)
        print(f"evnetctl: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
