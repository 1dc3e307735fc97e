"""Start a private dbus-daemon, the plant and every service; stop them all on SIGTERM.

It plays systemd's part for the simulation: each service gets its own NOTIFY_SOCKET so
the launcher knows when it is READY, a service that dies is restarted (as Restart= would),
and every child is asked to die with the launcher (PR_SET_PDEATHSIG) so that not even a
kill -9 of the launcher leaves processes behind.
"""

from __future__ import annotations

import argparse
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evnetd.runtime.config import Config
from evnetd.services import SIMULATED_STACK
from evnetd.sim.processes import LogCopy, ServiceProcess, die_with_parent

READY_TIMEOUT_S = 30.0
SIM_LOG = "sim.log"  # in the state dir: every service's log lines of this run (the simulation's journal)
RESTART_DELAY_S = 0.5

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "evnet-sim"


def start_bus(runtime: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A dbus-daemon on a socket in ``runtime``; returns it and its address."""
    config = runtime / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=runtime / "bus.sock"))
    daemon = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().decode().strip()
    if not address:
        daemon.wait()
        raise RuntimeError("dbus-daemon did not start")
    return daemon, address


class Launcher:
    def __init__(self, args: argparse.Namespace, config: Config) -> None:
        self.args = args
        self.config = config
        self.state_dir: Path = args.state_dir or default_state_dir()
        self.runtime = Path(tempfile.mkdtemp(prefix="evnet-"))
        self.children: list[ServiceProcess] = []
        self.restart_at: dict[str, float] = {}
        self.bus: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.log: LogCopy | None = None

    def run(self) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        try:
            self.bus, address = start_bus(self.runtime)
            (self.state_dir / "bus").write_text(address + "\n")
            print(f"EVNET_BUS={address}", flush=True)
            self.log = LogCopy(self.state_dir / SIM_LOG)
            # the plant is the board: it must be there before the daemons open their hardware
            plant, *others = SIMULATED_STACK + (("web",) if self.args.web else ())
            self.children = [ServiceProcess(plant, address, self.state_dir, self.args.config, log=self.log)]
            self.children[0].wait_ready(READY_TIMEOUT_S)
            self.children += [
                ServiceProcess(name, address, self.state_dir, self.args.config, extra_args=self._overrides(),
                               log=self.log)
                for name in others
            ]  # fmt: skip
            return self._supervise()
        except RuntimeError as exc:
            print(f"evnetd sim: {exc}", file=sys.stderr)
            return 1
        finally:
            self._stop_all()

    def _overrides(self) -> list[str]:
        """`--csms`/`--id`/`--web` of `evnetd sim`, handed to every daemon (the OCPP and web ones use them)."""
        out = []
        if self.args.csms:
            out += ["--csms", self.args.csms]
        if self.args.charge_point_id:
            out += ["--id", self.args.charge_point_id]
        if self.args.web:
            host, port = self.args.web
            out += ["--web", f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
        return out

    def _announce_web(self) -> None:
        """WEB=<url> and WEB_PIN=<pin>: where the web service listens (it writes the URL once
        bound, so port 0 works) and how to log in."""
        web_dir = self.state_dir / "web"
        pin = self.config.web.pin or (web_dir / "pin").read_text().strip()
        print(f"WEB={(web_dir / 'url').read_text().strip()}", flush=True)
        print(f"WEB_PIN={pin}", flush=True)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _supervise(self) -> int:
        selector = selectors.DefaultSelector()
        for child in self.children:
            selector.register(child.notify, selectors.EVENT_READ, child)
        started = time.monotonic()
        announced = False
        while not self.stopping:
            for key, _ in selector.select(timeout=0.1):
                key.data.read_notify()
            if not announced and all(c.ready for c in self.children):
                if self.args.web:
                    self._announce_web()
                print("READY", flush=True)
                announced = True
            if not announced and time.monotonic() - started > READY_TIMEOUT_S:
                late = ", ".join(c.name for c in self.children if not c.ready)
                print(f"evnetd sim: not ready after {READY_TIMEOUT_S:.0f} s: {late}", file=sys.stderr)
                return 1
            if self.bus is not None and self.bus.poll() is not None:
                print("evnetd sim: dbus-daemon exited", file=sys.stderr)
                return 1
            self._restart_dead()
        return 0

    def _restart_dead(self) -> None:
        now = time.monotonic()
        for child in self.children:
            code = child.process.poll()
            if code is None:
                continue
            due = self.restart_at.get(child.name)
            if due is None:
                print(f"evnetd sim: {child.name} exited ({code}); restarting", file=sys.stderr)
                self.restart_at[child.name] = now + RESTART_DELAY_S
            elif now >= due:
                del self.restart_at[child.name]
                child.respawn()

    def _stop_all(self) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.terminate()
        for child in reversed(self.children):
            if child.close() == -signal.SIGKILL:
                print(f"evnetd sim: {child.name} did not stop; killed", file=sys.stderr)
        if self.bus and self.bus.poll() is None:
            self.bus.terminate()
            self.bus.wait()
        if self.log:
            self.log.close()
        shutil.rmtree(self.runtime, ignore_errors=True)


def run_simulation(args: argparse.Namespace, config: Config) -> int:
    if shutil.which("dbus-daemon") is None:
        print("evnetd sim: dbus-daemon not found (apt install dbus)", file=sys.stderr)
        return 69
    return Launcher(args, config).run()
