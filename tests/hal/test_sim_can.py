"""The simulation's CAN medium: a directory of Unix datagram sockets, across processes too."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import can
import pytest

from evnetd.hal.errors import DeviceNotFoundError
from evnetd.hal.linux.can import open_can
from evnetd.hal.sim.can import DirectoryBus

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def buses(tmp_path: Path) -> Iterator[list[DirectoryBus]]:
    opened: list[DirectoryBus] = []
    yield opened
    for bus in opened:
        bus.shutdown()


def frame(
    arbitration_id: int = 0x643, data: bytes = b"\x12\x00\xa5\x02\x76\xff\x88\x07", extended: bool = False
) -> can.Message:
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=extended)


@pytest.mark.parametrize(
    "message",
    [
        frame(),
        frame(0x7FF, b""),
        frame(0x1ABCDEF0, b"\x01\x02\x03", extended=True),
        can.Message(arbitration_id=0x123, is_remote_frame=True, dlc=4, is_extended_id=False),
        can.Message(arbitration_id=0x20000080, is_error_frame=True, data=bytes(8), is_extended_id=True),
    ],
)
def test_frames_cross_intact(tmp_path: Path, buses: list[DirectoryBus], message: can.Message) -> None:
    sender, receiver = DirectoryBus(tmp_path), DirectoryBus(tmp_path)
    buses += [sender, receiver]
    sender.send(message)
    got = receiver.recv(timeout=2.0)
    assert got is not None and got.is_rx
    assert got.equals(message, timestamp_delta=None, check_channel=False, check_direction=False)
    assert sender.recv(timeout=0) is None  # no echo unless asked for


def test_own_messages_on_request(tmp_path: Path, buses: list[DirectoryBus]) -> None:
    sender, receiver = DirectoryBus(tmp_path, receive_own_messages=True), DirectoryBus(tmp_path)
    buses += [sender, receiver]
    sender.send(frame())
    echo = sender.recv(timeout=2.0)
    assert echo is not None and not echo.is_rx and bytes(echo.data) == bytes(frame().data)
    assert receiver.recv(timeout=2.0) is not None


def test_filters_apply(tmp_path: Path, buses: list[DirectoryBus]) -> None:
    sender = DirectoryBus(tmp_path)
    receiver = DirectoryBus(tmp_path, can_filters=[{"can_id": 0x640, "can_mask": 0x7F0, "extended": False}])
    buses += [sender, receiver]
    sender.send(frame(0x123))
    sender.send(frame(0x645))
    got = receiver.recv(timeout=2.0)
    assert got is not None and got.arbitration_id == 0x645


def test_shutdown_removes_the_socket_and_closes_the_bus(tmp_path: Path) -> None:
    bus = DirectoryBus(tmp_path)
    assert len(list(tmp_path.glob("*.sock"))) == 1
    bus.shutdown()
    bus.shutdown()  # twice is harmless
    assert list(tmp_path.glob("*.sock")) == []
    with pytest.raises(can.CanOperationError):
        bus.send(frame())
    with pytest.raises(can.CanOperationError):
        bus.recv(timeout=0)


def test_sockets_of_dead_buses_are_removed(tmp_path: Path, buses: list[DirectoryBus]) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(tmp_path / "99999-0.sock"))
    dead.close()  # the file stays, nobody listens: as after kill -9
    sender, receiver = DirectoryBus(tmp_path), DirectoryBus(tmp_path)
    buses += [sender, receiver]
    sender.send(frame())
    assert not (tmp_path / "99999-0.sock").exists()
    assert receiver.recv(timeout=2.0) is not None


def test_a_full_receiver_loses_frames_without_stalling_the_sender(tmp_path: Path, buses: list[DirectoryBus]) -> None:
    sender, receiver = DirectoryBus(tmp_path), DirectoryBus(tmp_path)
    buses += [sender, receiver]
    for number in range(1000):
        sender.send(frame(number, b""))
    received = []
    while (message := receiver.recv(timeout=0)) is not None:
        received.append(message.arbitration_id)
    assert 0 < len(received) < 1000
    assert received == list(range(len(received)))  # the oldest are kept, in order


def test_classic_frames_only(tmp_path: Path, buses: list[DirectoryBus]) -> None:
    bus = DirectoryBus(tmp_path)
    buses.append(bus)
    with pytest.raises(can.CanOperationError, match="classic"):
        bus.send(can.Message(arbitration_id=1, data=bytes(12), is_fd=True))


def test_fileno_signals_a_waiting_frame(tmp_path: Path, buses: list[DirectoryBus]) -> None:
    sender, receiver = DirectoryBus(tmp_path), DirectoryBus(tmp_path)
    buses += [sender, receiver]
    assert select.select([receiver.fileno()], [], [], 0)[0] == []
    sender.send(frame())
    assert select.select([receiver.fileno()], [], [], 2.0)[0] == [receiver.fileno()]


def test_open_can_finds_the_plugin(tmp_path: Path) -> None:
    bus = open_can("evnet_sim", str(tmp_path / "site"), receive_own_messages=True)
    try:
        assert isinstance(bus, DirectoryBus)
        bus.send(frame())
        assert bus.recv(timeout=2.0) is not None
    finally:
        bus.shutdown()


def test_a_directory_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(DeviceNotFoundError, match="evnet_sim"):
        open_can("evnet_sim", str(tmp_path / "file" / "site"))


CHILD = textwrap.dedent(
    """
    import sys
    import can
    from evnetd.hal.linux.can import open_can

    bus = open_can("evnet_sim", sys.argv[1])
    print("ready", flush=True)
    message = bus.recv(timeout=10.0)
    reply = can.Message(arbitration_id=message.arbitration_id + int(sys.argv[2]), data=bytes(reversed(message.data)),
                        is_extended_id=False)
    bus.send(reply)
    bus.shutdown()
    """
)


def test_processes_share_the_bus(tmp_path: Path, buses: list[DirectoryBus]) -> None:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), str(offset)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for offset in (1, 2)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        parent = DirectoryBus(tmp_path)
        buses.append(parent)
        parent.send(frame(0x640, b"\x01\x02\x03"))
        replies = sorted((m.arbitration_id, bytes(m.data)) for m in (parent.recv(timeout=10.0) for _ in children) if m)
        assert replies == [(0x641, b"\x03\x02\x01"), (0x642, b"\x03\x02\x01")]
    finally:
        for child in children:
            assert child.wait(timeout=10) == 0
    assert len(list(tmp_path.glob("*.sock"))) == 1  # the children removed theirs
