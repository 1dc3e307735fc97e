"""The CAN frame of local power sharing: one classic 8-byte frame per charger, big-endian.

Every charger of a site broadcasts its announcement under its own identifier
``BASE_ID + node`` (node 1..15), so no two chargers ever send the same identifier (CAN
arbitration cannot settle two senders of one identifier with different data) and a
listener knows the sender from the identifier alone. ``BASE_ID`` is aligned to 16, so one
acceptance filter (``BASE_ID``/``ID_MASK``) passes exactly the sharing frames.

Layout (docs/can-sharing.md has the reasoning and the timing):

====  ======  ===================================================================
byte  bits    field
====  ======  ===================================================================
0     7..4    protocol version (``VERSION``)
0     3..0    state (``NodeState``)
1-2   u16     demand, deciamps: 0 or 6.0..80.0 A
3-4   u16     the group limit this charger is configured with, deciamps, ≥ 6.0 A
5-6   i16     turn: > 0 seconds waiting for current, < 0 seconds served, 0 neither
7     u8      sequence, +1 per frame sent (mod 256)
====  ======  ===================================================================

The turn field is what lets all chargers rotate a scarce limit identically: each one says
how long it has waited (or been served), and every listener sorts by the same numbers.
Amps are rounded *down* to the deciamp on the way out: announcing a little less demand or
a little lower limit is safe, a little more never is. ``decode`` refuses anything it cannot
vouch for (``FrameError``, with a ``reason`` key to count by): a frame of another version,
a length other than 8, a node outside 1..15, an unknown state, a demand or limit out of range.
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass

from evnetd.iec61851.duty import MAX_CURRENT_A, MIN_CURRENT_A

VERSION = 1
BASE_ID = 0x640
ID_MASK = 0x7F0
"""``(arbitration_id & ID_MASK) == BASE_ID`` for every sharing frame (an acceptance filter)."""
MAX_NODE = 15
MIN_GROUP_LIMIT_A = MIN_CURRENT_A  # a group that cannot give one charger 6 A is no group
MAX_GROUP_LIMIT_A = 6553.5  # u16 deciamps
TURN_MAX_S = 32767  # the turn field saturates here (9 h); longer waits tie, node id decides

_LAYOUT = struct.Struct(">BHHhB")
FRAME_LENGTH = _LAYOUT.size  # 8


class NodeState(enum.Enum):
    """What a charger is doing; shown to the user, the allocation itself reads the demand."""

    IDLE = 0  # no EV, or an EV that wants nothing
    WAITING = 1  # an EV wants current and gets none yet
    CHARGING = 2
    PAUSED = 3  # paused by the EV, the user or another limit
    FAULTED = 4


class FrameError(ValueError):
    """A frame we refuse; ``reason`` is a short key to count refusals by."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Announcement:
    node: int
    state: NodeState
    demand_a: float  # what its EV could use now, 0 when it needs nothing
    group_limit_a: float  # the group limit it is configured with
    waiting_s: int  # how long it has been waiting for current (0 when not waiting)
    sequence: int  # 0..255, +1 per frame
    served_s: int = 0  # how long it has held a non-zero share (0 when not served)


def arbitration_id(node: int) -> int:
    return BASE_ID + node


def encode(a: Announcement) -> tuple[int, bytes]:
    """The frame (arbitration id, data) for ``a``; FrameError if ``a`` could not be decoded back."""
    _check_node(a.node)
    if a.waiting_s and a.served_s:
        raise FrameError("range", f"node {a.node}: waiting {a.waiting_s} s and served {a.served_s} s at once")
    if a.waiting_s < 0 or a.served_s < 0 or not 0 <= a.sequence <= 0xFF:
        raise FrameError("range", f"node {a.node}: negative waiting/served time or sequence outside 0..255")
    turn = min(a.waiting_s, TURN_MAX_S) if a.waiting_s else -min(a.served_s, TURN_MAX_S)
    demand = deciamps(a.demand_a)
    limit = deciamps(a.group_limit_a)
    _check_values(a.node, demand, limit)
    data = _LAYOUT.pack(VERSION << 4 | a.state.value, demand, limit, turn, a.sequence)
    return arbitration_id(a.node), data


def decode(arbitration_id: int, data: bytes) -> Announcement:
    """The announcement in a sharing frame; FrameError saying what is wrong with it."""
    node = arbitration_id - BASE_ID
    _check_node(node, arbitration_id)
    if len(data) != FRAME_LENGTH:
        raise FrameError("length", f"node {node}: {len(data)} data bytes, a sharing frame has {FRAME_LENGTH}")
    head, demand, limit, turn, sequence = _LAYOUT.unpack(data)
    version = head >> 4
    if version != VERSION:
        raise FrameError("version", f"node {node}: protocol version {version}, we speak {VERSION}")
    try:
        state = NodeState(head & 0x0F)
    except ValueError:
        raise FrameError("state", f"node {node}: unknown state {head & 0x0F}") from None
    _check_values(node, demand, limit)
    return Announcement(
        node=node,
        state=state,
        demand_a=demand / 10,
        group_limit_a=limit / 10,
        waiting_s=max(turn, 0),
        sequence=sequence,
        served_s=max(-turn, 0),
    )


def deciamps(amps: float) -> int:
    """``amps`` rounded down to the deciamp (the epsilon keeps 6.3 from becoming 62)."""
    if not math.isfinite(amps):
        raise FrameError("range", f"{amps} A is not a number of amps")
    return math.floor(amps * 10 + 1e-6)


def _check_node(node: int, arbitration_id: int | None = None) -> None:
    if not 1 <= node <= MAX_NODE:
        where = f"identifier {arbitration_id:#x}" if arbitration_id is not None else f"node {node}"
        raise FrameError(
            "id", f"{where}: nodes are 1..{MAX_NODE} (identifiers {BASE_ID + 1:#x}..{BASE_ID + MAX_NODE:#x})"
        )


def _check_values(node: int, demand: int, limit: int) -> None:
    if demand and not MIN_CURRENT_A * 10 <= demand <= MAX_CURRENT_A * 10:
        raise FrameError(
            "range", f"node {node}: demand {demand / 10:g} A, must be 0 or {MIN_CURRENT_A:g}..{MAX_CURRENT_A:g} A"
        )
    if not MIN_GROUP_LIMIT_A * 10 <= limit <= MAX_GROUP_LIMIT_A * 10:
        raise FrameError(
            "range",
            f"node {node}: group limit {limit / 10:g} A, must be {MIN_GROUP_LIMIT_A:g}..{MAX_GROUP_LIMIT_A:g} A",
        )
