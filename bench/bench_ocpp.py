"""OCPP uplink figures against the test CSMS on loopback (targets from issue 5).

- service start → BootNotification received by the CSMS: ≤ 2 s;
- RemoteStartTransaction with the EV plugged → StartTransaction received: p95 ≤ 300 ms;
- 10,000 queued transaction messages replayed after reconnect, in order: ≥ 300 msg/s;
- resident memory of the service ≤ 60 MB.

The trial count for the remote start is ``EVNET_BENCH_OCPP_TRIALS`` (default 30).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from ocpp.v16 import call

from bench._stack import percentile
from bench.bench_memory import rss_mb
from evnetd.ocpp.queue import MessageQueue
from evnetd.sim.launcher import start_bus
from evnetd.sim.processes import ServiceProcess
from tests.integration.sim import Sim
from tests.ocpp.csms import Csms

BOOT_TARGET_S = 2.0
REMOTE_START_TARGET_MS = 300.0
REPLAY_TARGET_PER_S = 300.0
MEMORY_TARGET_MB = 60.0
REPLAY_MESSAGES = 10_000
CONFIG = """
[general]
charge_point_id = "BENCH-1"
[charger]
auth_mode = "ocpp"
[ocpp.keys]
MeterValueSampleInterval = "0"
"""


def _boot_and_replay(workdir: Path, csms: Csms) -> dict[str, float]:
    """One OCPP service alone on a bus, its queue pre-filled: time to Boot, replay rate, RSS."""
    state = workdir / "state"
    queue = MessageQueue(state / "ocpp-queue.db")
    queue._db.execute("PRAGMA synchronous=OFF")  # filling the queue is set-up, not what is measured
    for n in range(REPLAY_MESSAGES):
        queue.push("MeterValues", {"connector_id": 1, "meter_value": [{"timestamp": "2026-01-01T00:00:00Z",
                   "sampled_value": [{"value": str(n)}]}]})  # fmt: skip
    queue.close()
    config = workdir / "evnet.toml"
    config.write_text(CONFIG)
    daemon, address = start_bus(workdir)
    mark = csms.mark()
    started = time.monotonic()
    service = ServiceProcess("ocpp", address, state, config, extra_args=["--csms", csms.url])
    try:
        boot = csms.wait_for("BootNotification", after=mark, timeout=10)
        first = csms.wait_for("MeterValues", after=mark, timeout=20)
        deadline = time.monotonic() + REPLAY_MESSAGES / 50
        while len(csms.sent("MeterValues", after=mark)) < REPLAY_MESSAGES and time.monotonic() < deadline:
            time.sleep(0.05)
        frames = csms.sent("MeterValues", after=mark)
        values = [int(f.payload["meterValue"][0]["sampledValue"][0]["value"]) for f in frames]
        in_order = values == sorted(values) and len(set(values)) == REPLAY_MESSAGES
        elapsed = frames[-1].at - first.at
        return {
            "boot_s": round(boot.at - started, 3),
            "replay_per_s": round((len(frames) - 1) / elapsed, 1) if elapsed > 0 else 0.0,
            "replayed": len(frames),
            "replay_in_order": in_order,
            "rss_mb": round(rss_mb(service.process.pid), 1),
        }
    finally:
        service.close()
        daemon.terminate()
        daemon.wait()


def _remote_starts(workdir: Path, csms: Csms, trials: int) -> list[float]:
    sim = Sim(workdir / "sim", "--config", str(workdir / "sim.toml"), "--csms", csms.url)
    try:
        csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, timeout=20)
        latencies = []
        for n in range(trials):
            sim.ctl("sim", "plug")
            csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Preparing"}, after=csms.mark() - 1)
            mark = csms.mark()
            sent = time.monotonic()
            assert csms.call(call.RemoteStartTransaction(id_tag=f"BENCH{n}", connector_id=1))["status"] == "Accepted"
            start = csms.wait_for("StartTransaction", after=mark)
            latencies.append((start.at - sent) * 1000)
            sim.ctl("stop")
            csms.wait_for("StopTransaction", after=mark)
            sim.ctl("sim", "unplug")
            csms.wait_for("StatusNotification", {"connectorId": 1, "status": "Available"}, after=mark)
        return latencies
    finally:
        sim.stop()


def run() -> dict[str, object]:
    trials = int(os.environ.get("EVNET_BENCH_OCPP_TRIALS", "30"))
    workdir = Path(tempfile.mkdtemp(prefix="evnet-bench-ocpp-"))
    csms = Csms().start()
    try:
        alone = _boot_and_replay(workdir / "alone", csms)
        (workdir / "sim.toml").write_text(CONFIG)
        latencies = _remote_starts(workdir, csms, trials)
    finally:
        csms.close()
        shutil.rmtree(workdir, ignore_errors=True)
    p95 = percentile(latencies, 95)
    return {
        "boot_s": alone["boot_s"], "boot_target_s": BOOT_TARGET_S,
        "remote_start_p95_ms": round(p95, 1), "remote_start_max_ms": round(max(latencies), 1),
        "remote_start_trials": trials, "remote_start_target_ms": REMOTE_START_TARGET_MS,
        "replay_per_s": alone["replay_per_s"], "replayed": alone["replayed"],
        "replay_in_order": alone["replay_in_order"], "replay_target_per_s": REPLAY_TARGET_PER_S,
        "rss_mb": alone["rss_mb"], "memory_target_mb": MEMORY_TARGET_MB,
        "pass": alone["boot_s"] <= BOOT_TARGET_S and p95 <= REMOTE_START_TARGET_MS
        and alone["replay_per_s"] >= REPLAY_TARGET_PER_S and bool(alone["replay_in_order"])
        and alone["rss_mb"] <= MEMORY_TARGET_MB,
    }  # fmt: skip
