"""GPIO lines through the libgpiod v2 Python bindings (``import gpiod``, package gpiod >= 2).

Lines are named by their board function; ``BOARD_LINES`` maps the names to offsets on the
SoC's GPIO chip (``/dev/gpiochip0`` on a CM4) and marks the active-low ones. Values are
logical: the kernel applies active-low, so ``value() is True`` means "asserted" (for
``rcd_fault``: the RCD module reports a fault) and edge events are reported in logical
terms too (RISING = became active).

The gpiod module is injected so tests pass a fake; by default the real one is imported when
the first line is requested, so this module imports where gpiod is not installed.
"""

from __future__ import annotations

import asyncio
import importlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Any, Protocol

from evnetd.hal.errors import DeviceIOError, DeviceNotFoundError
from evnetd.hal.interfaces import DigitalInput, DigitalOutput, Edge, EdgeEvent

CHIP_PATH = "/dev/gpiochip0"
CONSUMER = "evnetd"


@dataclass(frozen=True, slots=True)
class LineSpec:
    offset: int
    active_low: bool = False


BOARD_LINES: Mapping[str, LineSpec] = MappingProxyType(
    {
        "permit": LineSpec(27),
        "contactor": LineSpec(17),
        "mirror": LineSpec(22),
        "lock_a": LineSpec(5),
        "lock_b": LineSpec(6),
        "lock_feedback": LineSpec(13),
        "rcd_fault": LineSpec(23, active_low=True),
        "rcd_test": LineSpec(12),
        "tamper": LineSpec(16),
        "buzzer": LineSpec(26),
        "ads_drdy": LineSpec(25),
        "ads_reset": LineSpec(24),
    }
)


class LineRequest(Protocol):
    """The part of ``gpiod.LineRequest`` used here."""

    @property
    def fd(self) -> int: ...

    def get_value(self, line: int) -> Any: ...

    def set_value(self, line: int, value: Any) -> None: ...

    def wait_edge_events(self, timeout: float | None = None) -> bool: ...

    def read_edge_events(self, max_events: int | None = None) -> list[Any]: ...

    def release(self) -> None: ...


class GpioChip:
    """Requests board lines by name from one GPIO chip."""

    def __init__(
        self,
        path: str = CHIP_PATH,
        *,
        lines: Mapping[str, LineSpec] = BOARD_LINES,
        gpiod_module: ModuleType | None = None,
    ) -> None:
        self._path = path
        self._lines = lines
        self._gpiod = gpiod_module

    def _module(self) -> ModuleType:
        if self._gpiod is None:
            try:
                self._gpiod = importlib.import_module("gpiod")
            except ImportError as exc:
                raise DeviceNotFoundError("gpiod (libgpiod v2 bindings) is not installed") from exc
        return self._gpiod

    def _request(self, name: str, **settings: Any) -> tuple[LineRequest, int]:
        try:
            spec = self._lines[name]
        except KeyError:
            raise ValueError(f"GPIO: no line named {name!r}") from None
        gpiod = self._module()
        config = {spec.offset: gpiod.LineSettings(active_low=spec.active_low, **settings)}
        try:
            request: LineRequest = gpiod.request_lines(
                self._path, consumer=f"{CONSUMER}:{name}", config=config
            )
        except FileNotFoundError as exc:
            raise DeviceNotFoundError(f"GPIO: {self._path}: {exc}") from exc
        except OSError as exc:  # EBUSY: another process holds the line
            raise DeviceIOError(f"GPIO: cannot request {name} ({spec.offset}): {exc}") from exc
        return request, spec.offset

    def output(self, name: str, initial: bool = False) -> GpiodOutput:
        """An output line, driven to ``initial`` the moment it is requested."""
        gpiod = self._module()
        request, offset = self._request(
            name, direction=gpiod.line.Direction.OUTPUT, output_value=_value(gpiod, initial)
        )
        return GpiodOutput(name, gpiod, request, offset, initial)

    def input(self, name: str) -> GpiodInput:
        """An input line reporting both edges."""
        gpiod = self._module()
        request, offset = self._request(
            name, direction=gpiod.line.Direction.INPUT, edge_detection=gpiod.line.Edge.BOTH
        )
        return GpiodInput(name, gpiod, request, offset)

    def edge_waiter(self, name: str, edge: Edge = Edge.FALLING) -> EdgeWaiter:
        """A blocking waiter for one edge kind, for a driver thread (the ADS131M08 DRDY)."""
        line = self._module().line
        request, _ = self._request(
            name,
            direction=line.Direction.INPUT,
            edge_detection=line.Edge.RISING if edge is Edge.RISING else line.Edge.FALLING,
        )
        return EdgeWaiter(request)


def _value(gpiod: ModuleType, level: bool) -> Any:
    """The ``gpiod.line.Value`` of a logical level."""
    return gpiod.line.Value.ACTIVE if level else gpiod.line.Value.INACTIVE


class GpiodOutput(DigitalOutput):
    def __init__(
        self, name: str, gpiod: ModuleType, request: LineRequest, offset: int, initial: bool
    ) -> None:
        self.name = name
        self._gpiod = gpiod
        self._request = request
        self._offset = offset
        self._level = initial

    def set(self, value: bool) -> None:
        try:
            self._request.set_value(self._offset, _value(self._gpiod, value))
        except OSError as exc:
            raise DeviceIOError(f"GPIO: cannot set {self.name}: {exc}") from exc
        self._level = value

    def get(self) -> bool:
        return self._level

    def close(self) -> None:
        self._request.release()


class GpiodInput(DigitalInput):
    def __init__(self, name: str, gpiod: ModuleType, request: LineRequest, offset: int) -> None:
        self.name = name
        self._gpiod = gpiod
        self._request = request
        self._offset = offset
        self._pending: deque[EdgeEvent] = deque()

    def value(self) -> bool:
        try:
            level = self._request.get_value(self._offset)
        except OSError as exc:
            raise DeviceIOError(f"GPIO: cannot read {self.name}: {exc}") from exc
        return bool(level == self._gpiod.line.Value.ACTIVE)

    def _translate(self, event: Any) -> EdgeEvent:
        rising = event.event_type == self._gpiod.EdgeEvent.Type.RISING_EDGE
        return EdgeEvent(
            line=self.name,
            edge=Edge.RISING if rising else Edge.FALLING,
            timestamp=event.timestamp_ns / 1e9,  # CLOCK_MONOTONIC, the gpiod default
        )

    async def wait_edge(self) -> EdgeEvent:
        """The next edge; the kernel queues edges, so none is lost between calls."""
        loop = asyncio.get_running_loop()
        while not self._pending:
            readable: asyncio.Future[None] = loop.create_future()
            loop.add_reader(self._request.fd, _wake, readable)
            try:
                await readable
            finally:
                loop.remove_reader(self._request.fd)
            self._pending.extend(self._translate(e) for e in self._request.read_edge_events())
        return self._pending.popleft()

    def close(self) -> None:
        self._request.release()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class EdgeWaiter:
    """``waiter(timeout_s)``: True when the edge came within the timeout, else False."""

    def __init__(self, request: LineRequest) -> None:
        self._request = request

    def __call__(self, timeout_s: float) -> bool:
        if not self._request.wait_edge_events(timeout_s):
            return False
        self._request.read_edge_events()  # consume, so the next wait sees the next edge
        return True

    def close(self) -> None:
        self._request.release()
