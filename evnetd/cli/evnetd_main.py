"""`evnetd <service>` runs one daemon in the foreground; `evnetd sim` runs the whole stack."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from evnetd.cli.args import OneLineParser
from evnetd.hal.errors import HalError
from evnetd.runtime.config import EX_CONFIG, Config, ConfigError, load_config
from evnetd.runtime.daemon import EX_SOFTWARE, EX_TEMPFAIL, RestartRequested, ServiceFailed, run
from evnetd.runtime.log import setup_logging
from evnetd.services import SERVICES

EX_UNAVAILABLE = 69


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="evnetd", description="EVNET charger daemons")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for entry in SERVICES.values():
        p = sub.add_parser(entry.name, help=f"run {entry.help}")
        _common(p)
    sim = sub.add_parser("sim", help="run every service on the simulated board")
    _common(sim)
    return parser


def _host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6; an empty HOST is every address)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: must be HOST:PORT with a port 0-65535")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML file (default /etc/evnet/evnet.toml)")
    p.add_argument("--bus", help="D-Bus address (default: $EVNET_BUS, else the system bus)")
    p.add_argument("--state-dir", type=Path, help="where state is kept")
    p.add_argument("--csms", metavar="URL", help="OCPP CSMS websocket URL (overrides ocpp.url)")
    p.add_argument("--id", dest="charge_point_id", metavar="ID", help="charge point id (overrides the config)")
    p.add_argument("--web", type=_host_port, metavar="HOST:PORT",
                   help="web client address (overrides web.host/web.port; `sim`: run the web service)")  # fmt: skip


def effective_config(args: argparse.Namespace) -> Config:
    """The file's config with the command-line overrides, validated together with it."""
    general = {k: v for k, v in (("bus_address", args.bus), ("state_dir", args.state_dir),
                                 ("charge_point_id", args.charge_point_id)) if v is not None}  # fmt: skip
    ocpp = {"url": args.csms} if args.csms is not None else {}
    web = {"host": args.web[0], "port": args.web[1]} if args.web is not None else {}
    return load_config(args.config, {"general": general, "ocpp": ocpp, "web": web})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = effective_config(args)
    except ConfigError as exc:
        print(f"evnetd: {exc}", file=sys.stderr)
        return EX_CONFIG
    if args.command == "sim":
        from evnetd.sim.launcher import run_simulation

        return run_simulation(args, config)
    entry = SERVICES[args.command]
    setup_logging(entry.unit, config.general.log_level)
    service = entry.factory()(config)
    try:
        asyncio.run(run(service))
    except HalError as exc:
        logging.getLogger(entry.unit).error("hardware unavailable: %s", exc)
        return EX_UNAVAILABLE
    except RestartRequested:
        return EX_TEMPFAIL
    except ServiceFailed:
        return EX_SOFTWARE
    return 0
