"""A CAN medium for the simulation that several processes on one machine share: a directory.

python-can's ``virtual`` bus only reaches buses of the same process, and ``udp_multicast``
needs msgpack and multicast routing, which minimal containers lack. Here the channel is a
directory: every bus binds a Unix datagram socket ``<dir>/<pid>-<n>.sock`` in it, and
``send`` delivers the frame to every other socket there, so the simulated chargers of one
site (one process each) hear each other as on one CAN bus.

Each frame is a fixed 16-byte record (identifier, length, flags, 8 data bytes), classic CAN
only. Delivery is best effort, as on a real controller: a socket whose owner is gone
(refused, or its file vanished) is removed, and a receiver whose queue is full (Linux
queues ``net.unix.max_dgram_qlen`` datagrams, 10 by default) loses the frame, like a
controller that overruns. There is no arbitration, acknowledgement or bus-off: a bus alone
in its directory sends into the void without an error, and hears its own frames only with
``receive_own_messages`` (as python-can's virtual bus).

Registered with python-can as the interface ``evnet_sim`` (an entry point in
pyproject.toml), so ``open_can("evnet_sim", "/run/evnet/can")`` opens one.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import struct
import time
from pathlib import Path
from typing import Any

import can

_RECORD = struct.Struct("!IBB2x8s")  # identifier, length, flags, padding, data
_EXTENDED, _REMOTE, _ERROR = 0x01, 0x02, 0x04
_numbers = itertools.count()  # several buses in one process: <pid>-0, <pid>-1, ...


class DirectoryBus(can.BusABC):
    def __init__(
        self,
        channel: str | os.PathLike[str],
        receive_own_messages: bool = False,
        can_filters: can.typechecking.CanFilters | None = None,
        **kwargs: Any,
    ) -> None:
        directory = Path(channel)
        path = directory / f"{os.getpid()}-{next(_numbers)}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)  # left by a dead process that had our pid
            sock.bind(str(path))
        except OSError as exc:
            sock.close()
            raise can.CanInitializationError(f"evnet_sim bus in {directory}: {exc}") from exc
        self._directory, self._path, self._socket = directory, path, sock
        self.receive_own_messages = receive_own_messages
        self.channel_info = f"evnet_sim {directory}"
        super().__init__(channel=str(channel), can_filters=can_filters, **kwargs)

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        """Deliver ``msg`` to every bus of the directory now (``timeout`` is not needed)."""
        self._check_open()
        if msg.is_fd or len(msg.data) > 8:
            raise can.CanOperationError("evnet_sim carries classic CAN frames only (≤ 8 data bytes)")
        flags = (
            (_EXTENDED if msg.is_extended_id else 0)
            | (_REMOTE if msg.is_remote_frame else 0)
            | (_ERROR if msg.is_error_frame else 0)
        )
        record = _RECORD.pack(msg.arbitration_id, msg.dlc, flags, bytes(msg.data))
        for peer in self._directory.glob("*.sock"):
            if peer == self._path and not self.receive_own_messages:
                continue
            try:
                self._socket.sendto(record, socket.MSG_DONTWAIT, str(peer))
            except (ConnectionRefusedError, FileNotFoundError):
                peer.unlink(missing_ok=True)  # its bus is gone
            except BlockingIOError:
                pass  # its queue is full: that receiver loses the frame
            except OSError as exc:
                raise can.CanOperationError(f"evnet_sim send to {peer.name}: {exc}") from exc

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        self._check_open()
        try:
            ready, _, _ = select.select([self._socket], [], [], timeout)
            if not ready:
                return None, False
            record, sender = self._socket.recvfrom(_RECORD.size)
        except OSError as exc:
            raise can.CanOperationError(f"evnet_sim receive: {exc}") from exc
        identifier, length, flags, data = _RECORD.unpack(record)
        remote = bool(flags & _REMOTE)
        message = can.Message(
            timestamp=time.time(),
            arbitration_id=identifier,
            is_extended_id=bool(flags & _EXTENDED),
            is_remote_frame=remote,
            is_error_frame=bool(flags & _ERROR),
            dlc=length,
            data=None if remote else data[:length],
            channel=self.channel_info,
            is_rx=sender != str(self._path),
        )
        return message, False

    def fileno(self) -> int:
        """Readable when a frame waits: lets asyncio (``can.Notifier`` with a loop) watch the bus."""
        return self._socket.fileno()

    def shutdown(self) -> None:
        if self._is_shutdown:
            return
        super().shutdown()
        self._socket.close()
        self._path.unlink(missing_ok=True)

    def _check_open(self) -> None:
        if self._is_shutdown:
            raise can.CanOperationError("evnet_sim bus is shut down")
