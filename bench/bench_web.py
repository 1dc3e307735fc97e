"""The web service on loopback: dashboard first load, API status latency, live-update latency, memory.

Targets (issue 8): the dashboard's first load (index.html and every asset it pulls in, the
session and the first status, on a new TLS connection) ≤ 300 ms; ``GET /api/v1/status``
p95 ≤ 20 ms; a charger state change (the EV's pilot, set on the plant over D-Bus as
``evnetctl sim ev-state`` does) reaching a client of ``/api/v1/events`` ≤ 1 s; the web
daemon's resident memory ≤ 40 MB. The stack is ``evnetd sim --web 127.0.0.1:0`` with
HTTPS, as on a charger.

RSS counts the shared libraries whole (libpython, libcrypto), which every daemon maps;
PSS and private memory say what this daemon adds (see bench_memory).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import queue
import re
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.bench_memory import rollup_mb, rss_mb
from evnetd.bus.client import call
from evnetd.bus.connection import connect
from evnetd.bus.names import PLANT

FIRST_LOAD_TARGET_MS = 300.0
STATUS_P95_TARGET_MS = 20.0
LIVE_TARGET_S = 1.0
RSS_TARGET_MB = 40.0
STATUS_REQUESTS = 500
FIRST_LOADS = 20
STATE_CHANGES = 10
_REFERENCE = re.compile(r"""(?:src|href)="([^"#:]+)"|(?:from|import)\s*\(?\s*['"](\.{1,2}/[^'"]+)['"]""")


class WebStack:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="evnet-bench-web-"))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evnetd", "sim", "--state-dir", str(self.dir / "state"), "--web", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=(self.dir / "sim.log").open("w"), text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        lines = dict(self.process.stdout.readline().strip().split("=", 1) for _ in range(3))
        if self.process.stdout.readline().strip() != "READY":
            raise RuntimeError(f"the stack did not start: {(self.dir / 'sim.log').read_text()[-2000:]}")
        self.bus, self.pin = lines["EVNET_BUS"], lines["WEB_PIN"]
        url = urlsplit(lines["WEB"])
        self.host, self.port = url.hostname or "", url.port or 443
        self.tls = ssl.create_default_context(cafile=str(self.dir / "state" / "web" / "certificate.pem"))
        self.cookie, self.csrf = self._login()

    def connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=10)

    def _login(self) -> tuple[str, str]:
        connection = self.connection()
        connection.request("POST", "/api/v1/login", json.dumps({"pin": self.pin}), {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = json.loads(response.read())
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        connection.close()
        return cookie, body["csrf_token"]

    def get(self, connection: http.client.HTTPSConnection, path: str) -> bytes:
        connection.request("GET", path, headers={"Cookie": self.cookie})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")
        return body

    def web_pid(self) -> int:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    argv = (entry / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"evnetd" in argv and b"web" in argv[:4] and b"--bus" in argv:
                    return int(entry.name)
        raise RuntimeError("no web service process")

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(20)


def _first_load(stack: WebStack) -> float:
    """A new TLS connection: the index, every asset it references (HTML and JS imports,
    recursively), then what the dashboard asks first: the session and the status."""
    start = time.perf_counter()
    connection = stack.connection()
    pending, seen = ["/"], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        text = stack.get(connection, path).decode(errors="replace")
        if path == "/" or path.endswith((".html", ".js")):
            base = path.rsplit("/", 1)[0] + "/" if path != "/" else "/"
            for match in _REFERENCE.finditer(text):
                reference = (match[1] or match[2]).removeprefix("./")
                if not reference.startswith("/"):
                    reference = os.path.normpath(base + reference)
                pending.append(reference)
    stack.get(connection, "/api/v1/session")
    stack.get(connection, "/api/v1/status")
    connection.close()
    return (time.perf_counter() - start) * 1000


def _status_latencies(stack: WebStack) -> list[float]:
    connection = stack.connection()
    stack.get(connection, "/api/v1/status")  # the connection is open: only the request is timed
    latencies = []
    for _ in range(STATUS_REQUESTS):
        start = time.perf_counter()
        stack.get(connection, "/api/v1/status")
        latencies.append((time.perf_counter() - start) * 1000)
    connection.close()
    return latencies


def _follow_events(stack: WebStack, received: queue.Queue[tuple[float, dict[str, Any]]],
                   stop: threading.Event) -> None:  # fmt: skip
    connection = stack.connection()
    connection.request("GET", "/api/v1/events", headers={"Cookie": stack.cookie})
    response = connection.getresponse()
    while not stop.is_set():
        line = response.fp.readline()
        if not line:
            return
        if line.startswith(b"data: "):
            received.put((time.monotonic(), json.loads(line[6:])))


async def _set_ev_state(bus_address: str, state: str) -> float:
    bus = await connect(bus_address)
    try:
        sent = time.monotonic()
        await call(bus, PLANT, "SetEvState", "s", [state])
        return sent
    finally:
        bus.disconnect()


def _live_latencies(stack: WebStack) -> list[float]:
    received: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
    stop = threading.Event()
    reader = threading.Thread(target=_follow_events, args=(stack, received, stop), daemon=True)
    reader.start()
    subprocess.run([sys.executable, "-m", "evnetd.cli.evnetctl", "--bus", stack.bus, "sim", "plug"], check=True)
    latencies = []
    try:
        _wait_pilot(received, "B", time.monotonic() + 10)
        for n in range(STATE_CHANGES):
            state = "C" if n % 2 == 0 else "B"
            sent = asyncio.run(_set_ev_state(stack.bus, state))
            latencies.append(_wait_pilot(received, state, sent + 10) - sent)
    finally:
        stop.set()
    return latencies


def _wait_pilot(received: queue.Queue[tuple[float, dict[str, Any]]], pilot: str, deadline: float) -> float:
    while True:
        at, status = received.get(timeout=max(0.01, deadline - time.monotonic()))
        if status["pilot"] == pilot:
            return at


def run() -> dict[str, object]:
    stack = WebStack()
    try:
        loads = [_first_load(stack) for _ in range(FIRST_LOADS)]
        status = sorted(_status_latencies(stack))
        live = _live_latencies(stack)
        pid = stack.web_pid()
        rss, rollup = rss_mb(pid), rollup_mb(pid)
        maps = Path(f"/proc/{pid}/maps").read_text()
    finally:
        stack.close()
    first_load_p95 = sorted(loads)[int(0.95 * len(loads)) - 1]
    status_p95 = status[int(0.95 * len(status)) - 1]
    return {
        "first_load_median_ms": round(statistics.median(loads), 1),
        "first_load_p95_ms": round(first_load_p95, 1),
        "status_median_ms": round(statistics.median(status), 2),
        "status_p95_ms": round(status_p95, 2),
        "live_median_ms": round(statistics.median(live) * 1000, 1),
        "live_max_ms": round(max(live) * 1000, 1),
        "web_rss_mb": round(rss, 1),
        "web_pss_mb": round(rollup["pss"], 1),
        "web_private_mb": round(rollup["private"], 1),
        "heavy_modules_mapped": [name for name in ("pydantic_core", "_rust.abi3") if name in maps],
        "targets": {
            "first_load_ms": FIRST_LOAD_TARGET_MS,
            "status_p95_ms": STATUS_P95_TARGET_MS,
            "live_s": LIVE_TARGET_S,
            "rss_mb": RSS_TARGET_MB,
        },
        "pass": first_load_p95 <= FIRST_LOAD_TARGET_MS
        and status_p95 <= STATUS_P95_TARGET_MS
        and max(live) <= LIVE_TARGET_S
        and rss <= RSS_TARGET_MB,
    }
