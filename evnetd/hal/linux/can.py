"""The local power-sharing CAN bus (MCP2515 on SPI1, seen by Linux as SocketCAN ``can0``).

python-can does the work; this only translates its start-up failures into the hardware
layer's exceptions, so a daemon handles a missing CAN interface like any missing device.
SocketCAN reports a missing interface as a bare OSError (ENODEV), hence that case too.
python-can is imported when a bus is opened, keeping this module cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evnetd.hal.errors import DeviceIOError, DeviceNotFoundError

if TYPE_CHECKING:
    import can


def open_can(interface: str = "socketcan", channel: str = "can0", **kwargs: Any) -> can.BusABC:
    """Open a python-can bus; ``interface="virtual"`` gives an in-process bus for tests."""
    import can

    try:
        bus = can.Bus(interface=interface, channel=channel, **kwargs)
    except (can.CanInitializationError, can.CanInterfaceNotImplementedError) as exc:
        raise DeviceNotFoundError(f"CAN {interface}/{channel}: {exc}") from exc
    except can.CanOperationError as exc:
        raise DeviceIOError(f"CAN {interface}/{channel}: {exc}") from exc
    except OSError as exc:
        raise DeviceNotFoundError(f"CAN {interface}/{channel}: {exc}") from exc
    return bus
