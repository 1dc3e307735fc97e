"""The CAN side of local power sharing: frames in and out for the SharingGroup core.

The board's MCP2515 is SocketCAN ``can0``; the simulated board uses ``evnet_sim``, a
medium shared by the simulated chargers of one machine through a directory (the
``[hardware] can_channel``). A bus that cannot be opened, or a send that fails, is reported
to the core as a bus error: the core falls back to its fixed safe share and says so, and we
try to open the bus again every ``REOPEN_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import can

from evnetd.energy.decision import Decision
from evnetd.energy.frames import BASE_ID, ID_MASK, NodeState, encode
from evnetd.energy.sharing import SharingGroup, SharingSettings
from evnetd.hal.errors import HalError
from evnetd.hal.linux.can import open_can
from evnetd.runtime.config import Config
from evnetd.runtime.daemon import essential, wait_event
from evnetd.runtime.log import fields

log = logging.getLogger("evnet.energy")

REOPEN_S = 10.0
_STATES = {"Charging": NodeState.CHARGING, "SuspendedEV": NodeState.PAUSED, "Faulted": NodeState.FAULTED,
           "Unavailable": NodeState.FAULTED}  # fmt: skip


def node_state(status: str, demand_a: float) -> NodeState:
    """The charger's OCPP status as the group sees it; paused by us with demand = waiting."""
    if status == "SuspendedEVSE":
        return NodeState.WAITING if demand_a > 0 else NodeState.PAUSED
    return _STATES.get(status, NodeState.IDLE)


class SharingLink:
    def __init__(self, config: Config, wake: Callable[[], None]) -> None:
        e = config.energy
        self.group = SharingGroup(SharingSettings(
            node=e.sharing_node, group_limit_a=e.sharing_group_limit_a, peer_timeout_s=e.sharing_peer_timeout_s,
            fallback_a=min(e.sharing_fallback_a, e.sharing_group_limit_a),
        ))  # fmt: skip
        if config.general.board == "sim":
            channel = Path(config.hardware.can_channel)
            self.interface = "evnet_sim"
            self.channel = str(channel if channel.is_absolute() else config.general.state_dir / "can")
            Path(self.channel).mkdir(parents=True, exist_ok=True)
        else:
            self.interface, self.channel = "socketcan", config.hardware.can_channel
        self.wake = wake
        self.bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self._send_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [essential(loop.create_task(self._run(), name="can-sharing"))]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._close_bus()

    def _close_bus(self) -> None:
        if self._notifier is not None:
            self._notifier.stop()
            self._notifier = None
        if self.bus is not None:
            self.bus.shutdown()
            self.bus = None

    # --- what the service asks ------------------------------------------------------------
    def update(self, now: float, status: str, demand_a: float) -> None:
        if self.group.set_own(now, node_state(status, demand_a), demand_a):
            self._send_now.set()

    def decide(self, now: float) -> Decision:
        return self.group.decide(now)

    def state(self, now: float) -> str:
        return self.group.state(now)

    def allocation(self, now: float) -> dict[int, float]:
        return self.group.allocation(now)

    # --- the bus --------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                self._open_bus()
            except HalError as exc:
                log.error("CAN sharing bus %s/%s: %s; fixed safe share until it opens",
                          self.interface, self.channel, exc, extra=fields(FAULT="can-bus"))  # fmt: skip
                self.group.bus_error(time.monotonic(), str(exc))
                self.wake()
                await asyncio.sleep(REOPEN_S)
                continue
            log.info("sharing on CAN %s/%s as node %d", self.interface, self.channel, self.group.settings.node)
            await self._announce_loop()

    def _open_bus(self) -> None:
        # our own frames come back as echoes: the core tells them from another device with our id
        self.bus = open_can(self.interface, self.channel, receive_own_messages=True,
                            can_filters=[{"can_id": BASE_ID, "can_mask": ID_MASK, "extended": False}])  # fmt: skip
        reader = _Receiver(self)
        self._notifier = can.Notifier(self.bus, [reader], loop=asyncio.get_running_loop())

    async def _announce_loop(self) -> None:
        while True:
            now = time.monotonic()
            due = self.group.next_deadline(now)
            if due is None or due <= now or self._send_now.is_set():
                self._send_now.clear()
                self._send(now)
                continue
            await wait_event(self._send_now, due - now)

    def _send(self, now: float) -> None:
        assert self.bus is not None
        arbitration_id, data = encode(self.group.announcement(now))
        try:
            self.bus.send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False))
        except (can.CanError, OSError) as exc:
            self.group.bus_error(now, f"send failed: {exc}")
            log.warning("CAN sharing frame not sent: %s", exc, extra=fields(FAULT="can-bus"))
            self.wake()

    def received(self, msg: can.Message) -> None:
        if msg.is_error_frame or msg.is_remote_frame:
            return
        self.group.receive_frame(time.monotonic(), msg.arbitration_id, bytes(msg.data))
        self.wake()


class _Receiver(can.Listener):
    """python-can's Notifier calls this in the event loop (``loop=`` given)."""

    def __init__(self, link: SharingLink) -> None:
        self.link = link

    def on_message_received(self, msg: can.Message) -> None:
        self.link.received(msg)

    def on_error(self, exc: Exception) -> None:
        self.link.group.bus_error(time.monotonic(), f"receive failed: {exc}")
        self.link.wake()
