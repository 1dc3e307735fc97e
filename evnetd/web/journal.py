"""The tail of the evnet services' log: the journal on a charger, the sim log in `evnetd sim`.

On a charger the services log to journald, and ``journalctl -o json`` gives time, unit
and priority per entry. `evnetd sim` has no journal: its launcher copies every service's
stderr into ``STATE_DIR/sim.log``, whose lines this module parses back into the same
shape. Either way the entries come oldest first.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

from evnetd.bus.errors import NotAvailable

UNITS = "evnet-*"
TIMEOUT_S = 10.0
_PRIORITY = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}
# runtime.log's stderr format: "%(asctime)s <unit> %(levelname)s %(name)s: %(message)s"
_SIM_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\S+) ([A-Z]+) (.*)$")


def sim_log_entry(line: str) -> dict[str, Any]:
    """One sim log line as an entry; a line that is not a log record (a traceback) is kept whole."""
    match = _SIM_LINE.match(line)
    if not match:
        return {"time": None, "unit": None, "priority": None, "message": line}
    stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").timestamp() + int(match[2]) / 1000
    return {"time": stamp, "unit": match[3], "priority": _PRIORITY.get(match[4]), "message": match[5]}


def journal_entry(record: dict[str, Any]) -> dict[str, Any]:
    """One ``journalctl -o json`` record as an entry."""
    message = record.get("MESSAGE", "")
    if isinstance(message, list):  # non-UTF-8 text comes as a list of bytes
        message = bytes(message).decode(errors="replace")
    micros = record.get("__REALTIME_TIMESTAMP")
    priority = record.get("PRIORITY")
    return {
        "time": int(micros) / 1e6 if micros else None,
        "unit": record.get("_SYSTEMD_UNIT") or record.get("SYSLOG_IDENTIFIER"),
        "priority": int(priority) if priority and str(priority).isdigit() else None,
        "message": str(message),
    }


def read_sim_log(path: Path, lines: int) -> list[dict[str, Any]]:
    with path.open(errors="replace") as file:
        tail = deque(file, maxlen=lines)
    return [sim_log_entry(line.rstrip("\n")) for line in tail]


async def read_journal(lines: int) -> list[dict[str, Any]]:
    if shutil.which("journalctl") is None:
        raise NotAvailable("no journal on this system (journalctl not found)")
    process = await asyncio.create_subprocess_exec(
        "journalctl", "--no-pager", "-o", "json", "-n", str(lines), "-u", UNITS,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(TIMEOUT_S):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise NotAvailable(f"journalctl did not answer within {TIMEOUT_S:g} s") from None
    if process.returncode != 0:
        raise NotAvailable(f"journalctl failed (exit {process.returncode})")
    return [journal_entry(json.loads(line)) for line in output.splitlines() if line.strip()]


async def tail(state_dir: Path, lines: int) -> tuple[str, list[dict[str, Any]]]:
    """(source, entries): the sim log when `evnetd sim` writes one, else the journal."""
    from evnetd.sim.launcher import SIM_LOG

    sim_log = state_dir / SIM_LOG
    if sim_log.exists():
        return "sim-log", await asyncio.to_thread(read_sim_log, sim_log, lines)
    return "journal", await read_journal(lines)
