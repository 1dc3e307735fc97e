"""sd_notify: tell systemd we are ready, what we are doing, and that we are alive.

Uses systemd-python where installed and the datagram protocol directly otherwise, so the
daemons behave the same under systemd, in a container and in `evnetd sim` (where the
launcher provides its own NOTIFY_SOCKET to learn when each service is ready).
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send ``message`` (e.g. ``"READY=1"``) to $NOTIFY_SOCKET; False when it was not sent.

    Never blocks: a datagram socket whose reader has fallen behind (its queue holds only
    ~10 messages) would otherwise stop the event loop, and with it the protection loop.
    A message that does not fit is dropped.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
        try:
            sock.sendto(message.encode(), address)
        except OSError:  # BlockingIOError included: the reader is not keeping up
            return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None when not asked."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None
