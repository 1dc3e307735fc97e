"""CPU of every daemon of `evnetd sim` while nothing happens (no EV, no CSMS).

An idle charger must leave the CPU alone: the board is small and a daemon that spins
starves the others (a starved simulated ADC trips ``adc-silent``). Target: each daemon
≤ 1 % of a core, except two reported for the record: the meter, which never idles (it
measures 8 channels at 4 kSPS all the time; on the simulated board it also receives them
from the plant over a socket; `bench meter_cost` measures the metering itself), and the
plant simulator, which makes those samples. A loop that spins (a deadline already past,
re-armed at once) shows here as tens of percent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_charger import _cpu_s

SETTLE_S = 10.0
MEASURE_S = 20.0
TARGET_FRACTION = 0.01


def _daemons(parent: int) -> dict[str, int]:
    """`evnetd <name>` children of ``parent`` by name."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"evnetd" in argv:
            names = [a.decode() for a in argv if a and not a.startswith(b"-") and b"/" not in a]
            found[names[names.index("evnetd") + 1]] = int(entry.name)
    return found


def run() -> dict[str, object]:
    state = Path(tempfile.mkdtemp(prefix="evnet-bench-idle-"))
    sim = subprocess.Popen([sys.executable, "-m", "evnetd", "sim", "--state-dir", str(state / "state")],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert sim.stdout is not None
        while sim.stdout.readline().strip() != "READY":
            pass
        time.sleep(SETTLE_S)
        daemons = _daemons(sim.pid)
        before = {name: _cpu_s(pid) for name, pid in daemons.items()}
        start = time.monotonic()
        time.sleep(MEASURE_S)
        elapsed = time.monotonic() - start
        fractions = {name: round((_cpu_s(pid) - before[name]) / elapsed, 4) for name, pid in daemons.items()}
    finally:
        os.kill(sim.pid, signal.SIGTERM)
        sim.wait(20)
    checked = {name: value for name, value in fractions.items() if name not in ("plant", "meter")}
    return {
        "cpu_fraction": fractions, "seconds": MEASURE_S, "target_fraction": TARGET_FRACTION,
        "pass": bool(checked) and all(value <= TARGET_FRACTION for value in checked.values()),
    }  # fmt: skip
