"""CAN sharing core: the allocation, the raise window, peers that fall silent, and fallbacks."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from evnetd.energy.frames import VERSION, Announcement, NodeState, encode
from evnetd.energy.sharing import ROTATE_AFTER_S, SharingGroup, SharingSettings, allocate

CHARGING, WAITING, IDLE, PAUSED, FAULTED = (
    NodeState.CHARGING,
    NodeState.WAITING,
    NodeState.IDLE,
    NodeState.PAUSED,
    NodeState.FAULTED,
)


def node(n: int, demand: float, limit: float = 63.0, waiting: int = 0, served: int = 0) -> Announcement:
    return Announcement(n, CHARGING if demand else IDLE, demand, limit, waiting, 0, served)


# --- allocate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "reserved", "shares"),
    [
        ([node(1, 32), node(2, 32), node(3, 32)], 0.0, {1: 21.0, 2: 21.0, 3: 21.0}),
        # Water-filling: what a small demand leaves goes to the others.
        ([node(1, 10), node(2, 32), node(3, 32)], 0.0, {1: 10.0, 2: 26.5, 3: 26.5}),
        ([node(1, 6), node(2, 10)], 0.0, {1: 6.0, 2: 10.0}),  # room for all: each its demand
        ([node(1, 32), node(2, 0)], 0.0, {1: 32.0, 2: 0.0}),  # no demand, no share
        # The lowest group limit announced rules: a node set too high cannot raise it.
        ([node(1, 32, limit=63), node(2, 32, limit=40)], 0.0, {1: 20.0, 2: 20.0}),
        ([node(1, 32, limit=100), node(2, 32, limit=16)], 0.0, {1: 8.0, 2: 8.0}),
        # Deciamps, rounded down: 20 A among 3 is 6.6 + 6.7 + 6.7, never more than 20 A.
        ([node(1, 32, 20), node(2, 32, 20), node(3, 32, 20)], 0.0, {1: 6.6, 2: 6.7, 3: 6.7}),
        # Not 6 A for each: only limit // 6 A are served, fresh waits by node id.
        (
            [node(n, 32, 20, waiting=1) for n in (1, 2, 3, 4)],
            0.0,
            {1: 6.6, 2: 6.7, 3: 6.7, 4: 0.0},
        ),
        ([node(1, 32, 11.9, waiting=3), node(2, 16, 11.9, waiting=5)], 0.0, {1: 0.0, 2: 11.9}),  # longer wait first
        # Those served keep their place against a short wait (no relay chatter) ...
        (
            [node(1, 32, 12, served=700), node(2, 32, 12, served=100), node(3, 32, 12, waiting=ROTATE_AFTER_S - 1)],
            0.0,
            {1: 6.0, 2: 6.0, 3: 0.0},
        ),
        # ... until it reaches ROTATE_AFTER_S: then the one served longest gives way.
        (
            [node(1, 32, 12, served=700), node(2, 32, 12, served=100), node(3, 32, 12, waiting=ROTATE_AFTER_S)],
            0.0,
            {1: 0.0, 2: 6.0, 3: 6.0},
        ),
        (
            [node(1, 32, 12, served=50), node(2, 32, 12, served=100), node(3, 32, 12, waiting=ROTATE_AFTER_S + 5)],
            0.0,
            {1: 6.0, 2: 0.0, 3: 6.0},
        ),
        # Two whose turn has come: the longer wait first.
        (
            [node(1, 32, 6, served=10), node(2, 32, 6, waiting=700), node(3, 32, 6, waiting=900)],
            0.0,
            {1: 0.0, 2: 0.0, 3: 6.0},
        ),
        # A reserve for silent peers comes off the limit (rounded up).
        ([node(1, 32), node(2, 32)], 6.0, {1: 28.5, 2: 28.5}),
        ([node(1, 32), node(2, 32)], 6.01, {1: 28.4, 2: 28.5}),
        ([node(1, 32, 12), node(2, 32, 12)], 6.0, {1: 6.0, 2: 0.0}),
        ([node(1, 32, 12), node(2, 32, 12)], 13.0, {1: 0.0, 2: 0.0}),
        ([], 0.0, {}),
    ],
)
def test_allocate(table: list[Announcement], reserved: float, shares: dict[int, float]) -> None:
    assert allocate(table, reserved) == shares


def test_allocation_is_independent_of_arrival_order_and_always_safe() -> None:
    rng = random.Random(7)
    for _ in range(300):
        table = [
            Announcement(
                n,
                CHARGING,
                rng.choice([0.0, 6.0, round(rng.uniform(6, 32), 1)]),
                rng.choice([63.0, 40.0, round(rng.uniform(6, 80), 1)]),
                *rng.choice([(rng.randrange(0, 900), 0), (0, rng.randrange(1, 900))]),  # (waiting, sequence)
            )
            for n in rng.sample(range(1, 16), rng.randrange(1, 9))
        ]
        expected = allocate(table)
        for order in itertools.islice(itertools.permutations(table), 6):
            assert allocate(list(order)) == expected
        limit = min(a.group_limit_a for a in table)
        assert sum(expected.values()) <= limit + 1e-9
        for a in table:
            share = expected[a.node]
            assert share == 0 or 6.0 <= share <= a.demand_a


# --- a site of cores on one instant bus ---------------------------------------------------------


class Site:
    """Cores on a lossless bus with no delay; ``cut`` nodes neither send nor hear."""

    def __init__(self, nodes: tuple[int, ...] = (1, 2, 3), limit: float = 63.0, **settings: float) -> None:
        self.groups = {n: SharingGroup(SharingSettings(n, limit, **settings)) for n in nodes}
        self.now = 0.0
        self.cut: set[int] = set()

    def broadcast(self, arbitration_id: int, data: bytes, sender: int | None = None) -> None:
        for n, group in self.groups.items():
            if n not in self.cut and sender not in self.cut:
                group.receive_frame(self.now, arbitration_id, data)

    def send(self, n: int) -> None:
        self.broadcast(*encode(self.groups[n].announcement(self.now)), sender=n)

    def want(self, n: int, demand: float, state: NodeState = CHARGING) -> bool:
        material = self.groups[n].set_own(self.now, state, demand)
        if material:
            self.send(n)
        return material

    def run(self, until: float, step: float = 0.05) -> None:
        """Advance the clock; each node sends when due, at once on what it hears (as a shell does)."""
        while self.now < until - 1e-9:
            self.now = round(self.now + step, 6)
            for _ in range(10):
                due = [n for n, g in self.groups.items() if (g.next_deadline(self.now) or 1e9) <= self.now + 1e-9]
                for n in due:
                    self.send(n)
                if not due:
                    break
            else:
                raise AssertionError(f"frames keep triggering frames at {self.now}")

    def amps(self) -> dict[int, float | None]:
        return {n: g.decide(self.now).amps for n, g in self.groups.items()}


def test_the_group_agrees_and_raises_only_after_the_window() -> None:
    site = Site()
    for n in (1, 2, 3):
        site.want(n, 32.0)
    assert all(g.allocation(0.0) == {1: 21.0, 2: 21.0, 3: 21.0} for g in site.groups.values())
    site.run(1.45)
    assert site.amps() == {1: None, 2: None, 3: None}  # raise_delay_s = 1 s + 0.5 s
    decision = site.groups[1].decide(site.now)
    assert decision.next_change == pytest.approx(1.5)
    assert "raising to it once the others have reduced, paused until then" in decision.reason
    site.run(1.5)
    assert site.amps() == {1: 21.0, 2: 21.0, 3: 21.0}
    decision = site.groups[1].decide(site.now)
    assert (decision.source, decision.reason) == (
        "sharing",
        "sharing: 21 A of the 63 A group limit, 3 of 3 chargers want current",
    )


def test_a_newcomer_makes_room_at_once_and_takes_it_later() -> None:
    site = Site()
    site.want(1, 32.0)
    site.want(2, 32.0)
    site.run(10.0)
    assert site.amps() == {1: 31.5, 2: 31.5, 3: None}
    site.want(3, 16.0)
    assert site.amps() == {1: 23.5, 2: 23.5, 3: None}  # the others lower the instant they hear it
    site.run(11.45)
    assert site.amps()[3] is None
    site.run(11.5)
    assert site.amps() == {1: 23.5, 2: 23.5, 3: 16.0}


def test_a_raise_takes_the_lowest_share_of_the_window() -> None:
    site = Site(nodes=(1, 2))
    site.want(1, 60.0)
    site.want(2, 32.0)
    site.run(10.0)
    site.want(2, 10.0)  # node 1 may take 53 A ... then, 0.5 s later, only 43 A
    site.run(10.5)
    site.want(2, 20.0)
    site.run(11.45)
    assert site.amps() == {1: 31.5, 2: 10.0}
    site.run(11.5)
    assert site.amps() == {1: 43.0, 2: 10.0}  # 53 A never held for the whole window
    site.run(12.0)
    assert site.amps() == {1: 43.0, 2: 20.0}


@pytest.mark.parametrize(
    ("before", "after", "material"),
    [
        ((CHARGING, 16.0), (CHARGING, 16.9), False),  # small drift rides the next periodic frame
        ((CHARGING, 16.0), (CHARGING, 17.0), True),
        ((CHARGING, 16.0), (CHARGING, 15.0), True),
        ((CHARGING, 16.0), (WAITING, 16.0), True),
        ((CHARGING, 16.0), (CHARGING, 0.0), True),
        ((IDLE, 0.0), (CHARGING, 6.0), True),
        ((CHARGING, 6.0), (CHARGING, 3.0), False),  # announced as 6 A anyway
        ((CHARGING, 80.0), (CHARGING, 200.0), False),  # announced as 80 A anyway
        ((IDLE, 0.0), (IDLE, 12.0), False),  # idle chargers want nothing
        ((PAUSED, 10.0), (FAULTED, 10.0), True),
    ],
)
def test_what_is_sent_at_once(before: tuple[NodeState, float], after: tuple[NodeState, float], material: bool) -> None:
    group = SharingGroup(SharingSettings(1, 63.0))
    assert group.set_own(0.0, *before)  # nothing announced yet: always send
    group.announcement(0.0)
    assert group.set_own(0.1, *after) is material


@pytest.mark.parametrize(
    ("state", "demand", "announced"),
    [
        (CHARGING, 3.0, 6.0),
        (CHARGING, 16.55, 16.5),
        (CHARGING, 1000.0, 80.0),
        (CHARGING, float("inf"), 80.0),
        (CHARGING, -1.0, 0.0),
        (IDLE, 12.0, 0.0),
        (FAULTED, 12.0, 0.0),
        (PAUSED, 12.0, 12.0),
    ],
)
def test_announced_demand(state: NodeState, demand: float, announced: float) -> None:
    group = SharingGroup(SharingSettings(1, 63.0))
    group.set_own(0.0, state, demand)
    assert group.announcement(0.0).demand_a == announced


def test_nan_demand_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        SharingGroup(SharingSettings(1, 63.0)).set_own(0.0, CHARGING, float("nan"))


def test_announcements_count_and_carry_the_turn() -> None:
    site = Site(nodes=(1, 2, 3), limit=12.0)
    site.want(1, 32.0)
    site.want(2, 32.0)
    site.run(5.0)
    site.want(3, 32.0)
    site.run(70.0)
    first, second, third = (site.groups[n].announcement(site.now) for n in (1, 2, 3))
    assert (first.served_s, first.waiting_s) == (70, 0)
    assert (third.waiting_s, third.served_s) == (65, 0)
    assert site.groups[3].announcement(site.now).sequence == third.sequence + 1
    assert second.served_s == 70


def test_sequence_wraps() -> None:
    group = SharingGroup(SharingSettings(1, 63.0))
    sequences = [group.announcement(float(t)).sequence for t in range(258)]
    assert sequences[:2] == [0, 1] and sequences[255:] == [255, 0, 1]


def test_turns_rotate_when_the_limit_is_scarce() -> None:
    site = Site(limit=12.0)  # 2 × 6 A for 3 chargers
    for n in (1, 2, 3):
        site.want(n, 32.0)
    site.run(10.0)
    assert site.amps() == {1: 6.0, 2: 6.0, 3: None}  # fresh waits: by node id
    reason = site.groups[3].decide(site.now).reason
    assert reason == (
        "sharing: waiting for a turn, 3 chargers want current and the 12 A group limit gives 6 A to 2 at most "
        "(turns rotate after 10 min)"
    )
    site.run(ROTATE_AFTER_S - 1.0, step=0.5)
    site.run(ROTATE_AFTER_S - 0.05)
    assert site.amps() == {1: 6.0, 2: 6.0, 3: None}
    site.run(ROTATE_AFTER_S)  # node 3's frame says 600 s: its turn; node 2 (tied with 1 by the minute) gives way
    assert site.amps() == {1: 6.0, 2: None, 3: None}
    site.run(ROTATE_AFTER_S + 1.5)
    assert site.amps() == {1: 6.0, 2: None, 3: 6.0}
    site.run(2 * ROTATE_AFTER_S + 1.5, step=0.5)  # node 2's turn; node 1, served longest, gives way
    assert site.amps() == {1: None, 2: 6.0, 3: 6.0}
    site.run(3 * ROTATE_AFTER_S + 1.5, step=0.5)
    assert site.amps() == {1: 6.0, 2: 6.0, 3: None}


# --- silence, errors, conflicts ------------------------------------------------------------------


def test_a_silent_peer_is_dropped_and_its_share_reclaimed_less_its_fallback() -> None:
    site = Site()
    for n in (1, 2, 3):
        site.want(n, 32.0)
    site.run(10.0)
    site.send(3)  # its last frame: at 10.0
    site.cut.add(3)  # node 3 loses the bus: it is charging at its fallback from now on
    site.run(13.0)
    assert site.groups[1].allocation(site.now) == {1: 21.0, 2: 21.0, 3: 21.0}
    site.run(13.5)  # last heard at 10.0 + 3.5 s: dropped, 6 A kept for its fallback
    assert site.groups[1].allocation(site.now) == {1: 28.5, 2: 28.5}
    assert site.amps() == {1: 21.0, 2: 21.0, 3: 6.0}
    decision = site.groups[1].decide(site.now)
    assert "less 6 A kept for silent charger(s) 3" in decision.reason
    site.run(14.95)
    assert site.amps()[1] == 21.0
    site.run(15.0)  # last heard at 10.0, dropped at 13.5, + raise delay 1.5 s
    assert site.amps() == {1: 28.5, 2: 28.5, 3: 6.0}
    assert site.groups[3].decide(site.now).reason.startswith("CAN bus lost: no frame for 5 s, not even our own")
    site.cut.clear()  # back: its frame lowers the others at once, it rises after the window
    site.run(16.0)
    assert site.amps() == {1: 21.0, 2: 21.0, 3: 6.0}
    site.run(17.5)
    assert site.amps() == {1: 21.0, 2: 21.0, 3: 21.0}


def test_a_silent_peer_that_wanted_nothing_is_reclaimed_whole() -> None:
    site = Site(nodes=(1, 2))
    site.want(1, 32.0)
    site.want(2, 0.0, IDLE)
    site.run(5.0)
    site.cut.add(2)
    site.run(10.0)
    assert site.groups[1].allocation(site.now) == {1: 32.0}
    assert site.groups[1].state(site.now) == "alone"


@pytest.mark.parametrize(
    ("fallback", "amps", "reason"),
    [
        (6.0, 6.0, "CAN bus lost (send failed: No buffer space available): fixed safe share 6 A"),
        (10.0, 10.0, "CAN bus lost (send failed: No buffer space available): fixed safe share 10 A"),
        (0.0, None, "CAN bus lost (send failed: No buffer space available): fixed safe share 0 A"),
    ],
)
def test_a_bus_error_falls_back_until_the_frames_flow_again(fallback: float, amps: float | None, reason: str) -> None:
    site = Site(nodes=(1, 2), fallback_a=fallback)
    site.want(1, 32.0)
    site.want(2, 32.0)
    site.run(5.0)
    group = site.groups[1]
    group.bus_error(site.now, "send failed: No buffer space available")
    decision = group.decide(site.now)
    assert (decision.amps, decision.reason, decision.source) == (min(amps or 0, 31.5) or None, reason, "fallback")
    assert group.state(site.now) == "fallback"
    site.run(5.0 + 3.45)
    assert group.decide(site.now).source == "fallback"
    site.run(5.0 + 3.5)
    assert group.decide(site.now).source == "sharing"
    site.run(5.0 + 3.5 + 1.5)  # a rise back to the share waits for the window too
    assert group.decide(site.now).amps == 31.5
    assert group.counters["bus_error"] == 1


def test_silence_listening_then_lost() -> None:
    group = SharingGroup(SharingSettings(1, 63.0))
    group.set_own(0.0, CHARGING, 32.0)
    assert group.decide(0.0).reason == (
        "listening for the other chargers on the CAN bus: fixed safe share 6 A once the others had time to react"
    )
    assert group.decide(0.0).next_change == 1.5
    assert group.decide(1.5).amps == 6.0
    decision = group.decide(3.5)
    assert decision.reason == "CAN bus lost: no frame heard in 4 s, not even our own: fixed safe share 6 A"
    assert (decision.amps, decision.source) == (6.0, "fallback")


def test_our_echo_keeps_us_alone_but_trusted() -> None:
    site = Site(nodes=(1,))
    site.want(1, 40.0)
    site.run(60.0)
    assert site.amps() == {1: 40.0}
    assert site.groups[1].state(site.now) == "alone"
    assert site.groups[1].counters["echo"] == 61 and site.groups[1].counters["conflict"] == 0


def test_another_device_with_our_node_id() -> None:
    site = Site(nodes=(1, 2))
    site.want(1, 32.0)
    site.want(2, 32.0)
    site.run(5.0)
    impostor = Announcement(1, CHARGING, 16.0, 63.0, 0, 200, 30)
    site.broadcast(*encode(impostor))
    group = site.groups[1]
    decision = group.decide(site.now)
    assert decision.source == "fallback" and decision.amps == 6.0
    assert decision.reason == (
        "node id 1 is used by another charger too: give each charger its own sharing node: fixed safe share 6 A"
    )
    assert group.state(site.now) == "conflict" and group.counters["conflict"] == 1
    site.run(5.0 + 3.5)
    assert group.state(site.now) == "sharing"


@pytest.mark.parametrize(
    ("data", "counter", "words"),
    [
        (bytes([(VERSION + 1) << 4 | 2]) + bytes(7), "refused_version", "protocol version 2, we speak 1"),
        (b"\x12\x00", "refused_length", "2 data bytes"),
        (bytes.fromhex("12 0010 0276 0000 00"), "refused_range", "demand 1.6 A"),
    ],
)
def test_a_peer_we_cannot_read_sends_us_to_the_fallback(data: bytes, counter: str, words: str) -> None:
    site = Site(nodes=(1, 2))
    site.want(1, 32.0)
    site.run(5.0)
    site.broadcast(0x644, data)
    group = site.groups[1]
    decision = group.decide(site.now)
    assert decision.source == "fallback"
    assert decision.reason.startswith(f"cannot read charger 4 (node 4: {words}")
    assert group.counters[counter] == 1
    site.broadcast(*encode(Announcement(4, IDLE, 0.0, 63.0, 0, 0)))  # a good frame clears it
    assert group.decide(site.now).source == "sharing"


def test_frames_outside_the_node_range_are_only_counted() -> None:
    site = Site(nodes=(1,))
    site.want(1, 32.0)
    site.run(5.0)
    site.broadcast(0x640, bytes(8))
    group = site.groups[1]
    assert group.decide(site.now).source == "sharing" and group.counters["refused_id"] == 1


def test_next_deadline_is_the_next_frame_or_change() -> None:
    group = SharingGroup(SharingSettings(1, 63.0))
    assert group.next_deadline(0.0) == 0.0  # nothing sent yet: announce now
    group.set_own(0.0, CHARGING, 16.0)
    group.receive_frame(0.0, *encode(group.announcement(0.0)))  # waiting for current ...
    assert group.next_deadline(0.0) == 0.0  # ... and now served: say so at once
    group.receive_frame(0.0, *encode(group.announcement(0.0)))
    assert group.next_deadline(0.0) == 1.0
    group.announcement(1.0)
    assert group.decide(1.0).next_change == 1.5  # the raise
    assert group.next_deadline(1.2) == 1.5


@pytest.mark.parametrize(
    "settings",
    [
        {"node": 0},
        {"node": 16},
        {"group_limit_a": 5.9},
        {"group_limit_a": 7000.0},
        {"announce_s": 0.0},
        {"peer_timeout_s": 1.0},  # not above announce_s: peers would drop between frames
        {"peer_timeout_s": float("inf")},
        {"fallback_a": -1.0},
        {"fallback_a": 70.0},  # above the group limit
        {"raise_margin_s": -0.1},
    ],
)
def test_settings_are_checked(settings: dict[str, float]) -> None:
    base = SharingSettings(1, 63.0)
    with pytest.raises(ValueError):
        replace(base, **settings)  # type: ignore[arg-type]
