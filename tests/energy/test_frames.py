"""The sharing frame: exact byte layout, round trips, rounding down, and every refusal."""

from __future__ import annotations

import pytest

from evnetd.energy.frames import (
    BASE_ID,
    FRAME_LENGTH,
    ID_MASK,
    TURN_MAX_S,
    Announcement,
    FrameError,
    NodeState,
    decode,
    encode,
)

CHARGING, WAITING, IDLE = NodeState.CHARGING, NodeState.WAITING, NodeState.IDLE


@pytest.mark.parametrize(
    ("announcement", "arbitration_id", "data"),
    [
        # version 1 | state 2, 16.5 A = 0x00A5 dA, 63 A = 0x0276 dA, served 120 s = -120, seq 7
        (Announcement(3, CHARGING, 16.5, 63.0, 0, 7, served_s=120), 0x643, "12 00a5 0276 ff88 07"),
        (Announcement(1, WAITING, 32.0, 40.0, 45, 255), 0x641, "11 0140 0190 002d ff"),
        (Announcement(15, IDLE, 0.0, 6553.5, 0, 0), 0x64F, "10 0000 ffff 0000 00"),
        (Announcement(2, NodeState.FAULTED, 0.0, 6.0, 0, 1), 0x642, "14 0000 003c 0000 01"),
    ],
)
def test_byte_layout(announcement: Announcement, arbitration_id: int, data: str) -> None:
    assert encode(announcement) == (arbitration_id, bytes.fromhex(data))
    assert decode(arbitration_id, bytes.fromhex(data)) == announcement


@pytest.mark.parametrize(
    ("sent", "received"),
    [
        # Amps go out rounded down to the deciamp: a little less demand or limit is safe.
        (Announcement(4, CHARGING, 6.35, 63.09, 0, 0, 1), Announcement(4, CHARGING, 6.3, 63.0, 0, 0, 1)),
        (Announcement(4, CHARGING, 6.3, 63.0, 0, 0, 1), Announcement(4, CHARGING, 6.3, 63.0, 0, 0, 1)),
        (Announcement(4, CHARGING, 80.0, 6.0, 0, 0, 1), Announcement(4, CHARGING, 80.0, 6.0, 0, 0, 1)),
        # The turn saturates: a wait longer than 9 h reads as 9 h.
        (Announcement(5, WAITING, 10.0, 32.0, 99_999, 9), Announcement(5, WAITING, 10.0, 32.0, TURN_MAX_S, 9)),
        (Announcement(5, CHARGING, 10.0, 32.0, 0, 9, 40_000), Announcement(5, CHARGING, 10.0, 32.0, 0, 9, TURN_MAX_S)),
    ],
)
def test_round_trip(sent: Announcement, received: Announcement) -> None:
    assert decode(*encode(sent)) == received


def test_identifiers_pass_one_acceptance_filter() -> None:
    ids = [encode(Announcement(node, IDLE, 0.0, 32.0, 0, 0))[0] for node in range(1, 16)]
    assert all(i & ID_MASK == BASE_ID for i in ids)
    assert len(set(ids)) == 15 and FRAME_LENGTH == 8


GOOD = bytes.fromhex("12 00a5 0276 ff88 07")


@pytest.mark.parametrize(
    ("arbitration_id", "data", "reason", "words"),
    [
        (0x643, GOOD[:7], "length", "7 data bytes"),
        (0x643, GOOD + b"\x00", "length", "9 data bytes"),
        (0x643, b"", "length", "0 data bytes"),
        (0x643, bytes([0x22]) + GOOD[1:], "version", "protocol version 2, we speak 1"),
        (0x643, bytes([0x02]) + GOOD[1:], "version", "protocol version 0"),
        (0x643, bytes([0x19]) + GOOD[1:], "state", "unknown state 9"),
        (BASE_ID, GOOD, "id", "identifier 0x640"),  # node 0 does not exist
        (BASE_ID + 16, GOOD, "id", "nodes are 1..15"),
        (0x643, bytes.fromhex("12 003b 0276 ff88 07"), "range", "demand 5.9 A"),  # below 6 A
        (0x643, bytes.fromhex("12 0321 0276 ff88 07"), "range", "demand 80.1 A"),
        (0x643, bytes.fromhex("12 00a5 003b ff88 07"), "range", "group limit 5.9 A"),
        (0x643, bytes.fromhex("12 00a5 0000 ff88 07"), "range", "group limit 0 A"),
    ],
)
def test_decode_refuses(arbitration_id: int, data: bytes, reason: str, words: str) -> None:
    with pytest.raises(FrameError, match=words) as caught:
        decode(arbitration_id, data)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "announcement",
    [
        Announcement(0, IDLE, 0.0, 32.0, 0, 0),
        Announcement(16, IDLE, 0.0, 32.0, 0, 0),
        Announcement(1, CHARGING, 3.0, 32.0, 0, 0),  # no EV draws 3 A: announce 0 or ≥ 6 A
        Announcement(1, CHARGING, 81.0, 32.0, 0, 0),
        Announcement(1, CHARGING, -6.0, 32.0, 0, 0),
        Announcement(1, CHARGING, float("nan"), 32.0, 0, 0),
        Announcement(1, CHARGING, 10.0, 5.0, 0, 0),
        Announcement(1, CHARGING, 10.0, 32.0, 5, 0, served_s=5),  # waiting and served at once
        Announcement(1, CHARGING, 10.0, 32.0, -1, 0),
        Announcement(1, CHARGING, 10.0, 32.0, 0, 256),
    ],
)
def test_encode_refuses_what_decode_would(announcement: Announcement) -> None:
    with pytest.raises(FrameError):
        encode(announcement)
