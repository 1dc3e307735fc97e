"""Local power sharing over CAN: every charger computes the same split of one group limit.

There is no master. Each charger broadcasts its announcement (``frames``) every
``announce_s`` and at once when it changes materially; each keeps the latest announcement
of every peer it has heard within ``peer_timeout_s``, and runs the same ``allocate`` over
that table. Identical tables give identical allocations, whatever the order the frames came
in, so the chargers agree as soon as they have heard each other's latest frame.

The allocation (``allocate``):

* The group limit is the lowest one announced: a charger configured too high cannot
  raise it, one configured lower protects the site for everybody.
* Below 6 A no current can be signalled, so when the limit cannot give 6 A to every
  charger that wants current, only ``limit // 6 A`` of them are served. Who, is decided
  by the turn each one announces, so that long waits rotate without relay chatter:
  first those that have waited ``ROTATE_AFTER_S`` or longer (longest wait first), then
  those being served (shortest served first by the minute, so the one served longest
  gives way), then
  the other waiting ones (longest wait first); the node id breaks ties.
* The served ones share by water-filling in deciamps: each gets ``min(demand, fair
  share)`` and what a smaller demand leaves is shared by the rest. Every share is 0 or
  at least 6 A.

Transitions never exceed the limit (docs/can-sharing.md has the timing): a charger takes
a lower share at once, but a higher one only once it has been allotted at least that much
for ``raise_delay_s`` (one announce period plus a margin), which gives every other charger
the time to hear the same frames and lower its own offer first. The decision is the
lowest share of that window (the same rule as the site limiter's rising house load).

When the group cannot be trusted the charger falls back to the fixed ``fallback_a``,
saying why in the reason: a send error or bus-off reported by the shell; no frame at all,
not even the echo of our own, for ``peer_timeout_s`` (a charger alone on a real CAN bus
gets no acknowledgement, hence no echo: it cannot tell that from a cut cable); another
device announcing our node id; a peer whose latest frame we refused (another protocol
version, say), since we cannot know what it draws. Installers size ``fallback_a`` so that
every charger of the group at its fallback stays within the group limit.

A peer silent for ``peer_timeout_s`` is dropped and its share reclaimed, except
``min(fallback_a, its demand)`` when it wanted current: it may have lost the bus rather
than its power, and is then charging at its own fallback. That reserve is held until it
is heard again.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Collection
from dataclasses import dataclass

from evnetd.energy.decision import Decision, amps_text, duration_text
from evnetd.energy.frames import (
    BASE_ID,
    MAX_GROUP_LIMIT_A,
    MAX_NODE,
    MIN_GROUP_LIMIT_A,
    TURN_MAX_S,
    Announcement,
    FrameError,
    NodeState,
    deciamps,
    decode,
)
from evnetd.iec61851.duty import MAX_CURRENT_A, MIN_CURRENT_A
from evnetd.timing import reached

ROTATE_AFTER_S = 600
"""A charger waiting this long takes the place of the one served longest. A protocol
constant, not a setting: every charger must rank the same way."""
MATERIAL_CHANGE_A = 1.0
"""A demand change this large (or a state change, or starting/stopping to want current) is
announced at once; smaller ones go out with the next periodic frame."""
_MIN_DA = deciamps(MIN_CURRENT_A)
_QUIET_NODES = (NodeState.IDLE, NodeState.FAULTED)  # they draw nothing, whatever they wish
_SERVED_RANK_S = 60
"""Served time is ranked by the minute: two chargers served about as long must not swap
places because one of them announced a second later (a needless pause and relay cycle)."""
_OWN_ECHOES = 4  # our latest frames, to tell our echo from another device with our node id


@dataclass(frozen=True, slots=True)
class SharingSettings:
    node: int
    group_limit_a: float
    peer_timeout_s: float = 3.5
    announce_s: float = 1.0
    fallback_a: float = 6.0
    raise_margin_s: float = 0.5
    """Added to ``announce_s`` for the raise delay: frame latency and the shells' loop turn."""

    def __post_init__(self) -> None:
        if not 1 <= self.node <= MAX_NODE:
            raise ValueError(f"node {self.node}: must be 1..{MAX_NODE}")
        if not MIN_GROUP_LIMIT_A <= self.group_limit_a <= MAX_GROUP_LIMIT_A:
            raise ValueError(
                f"group_limit_a {self.group_limit_a} A: must be {MIN_GROUP_LIMIT_A:g}..{MAX_GROUP_LIMIT_A:g} A"
            )
        if not (math.isfinite(self.announce_s) and self.announce_s > 0):
            raise ValueError(f"announce_s {self.announce_s} s: must be a finite value > 0")
        if not (math.isfinite(self.peer_timeout_s) and self.peer_timeout_s > self.announce_s):
            raise ValueError(f"peer_timeout_s {self.peer_timeout_s} s: must be finite and above announce_s")
        if not 0 <= self.fallback_a <= self.group_limit_a:
            raise ValueError(f"fallback_a {self.fallback_a} A: must be 0..group_limit_a ({self.group_limit_a:g} A)")
        if not (math.isfinite(self.raise_margin_s) and self.raise_margin_s >= 0):
            raise ValueError(f"raise_margin_s {self.raise_margin_s} s: must be a finite value ≥ 0")

    @property
    def raise_delay_s(self) -> float:
        return self.announce_s + self.raise_margin_s


def group_limit(table: Collection[Announcement]) -> float:
    """The lowest group limit announced (the table must not be empty)."""
    return min(a.group_limit_a for a in table)


def allocate(table: Collection[Announcement], reserved_a: float = 0.0) -> dict[int, float]:
    """Each node's share of the group limit less ``reserved_a``; identical on every node."""
    if not table:
        return {}
    available = deciamps(group_limit(table)) - math.ceil(reserved_a * 10 - 1e-6)  # reserve rounded up
    wanting = sorted((a for a in table if a.demand_a > 0), key=_priority)
    served = sorted(wanting[: max(available, 0) // _MIN_DA], key=lambda a: (a.demand_a, a.node))
    shares = dict.fromkeys(sorted(a.node for a in table), 0.0)
    left = available
    for index, a in enumerate(served):
        share = min(deciamps(a.demand_a), left // (len(served) - index))
        shares[a.node] = share / 10
        left -= share
    return shares


def _priority(a: Announcement) -> tuple[int, int, int]:
    if a.waiting_s >= ROTATE_AFTER_S:
        return 0, -a.waiting_s, a.node
    if a.served_s > 0:
        return 1, a.served_s // _SERVED_RANK_S, a.node
    return 2, -a.waiting_s, a.node


@dataclass(slots=True)
class _Peer:
    latest: Announcement
    heard_at: float


class SharingGroup:
    """One charger's view of the group; the shell feeds frames and asks for decisions.

    The shell sends ``announcement(now)`` whenever ``set_own`` returns True or
    ``next_deadline(now)`` has come, feeds every frame heard (its own echo included: open
    the bus with ``receive_own_messages=True``) to ``receive_frame``, reports send failures
    and bus-off to ``bus_error``, and calls ``decide`` after each of these and at
    ``next_deadline``: a lower share must reach the EV at once.
    """

    def __init__(self, settings: SharingSettings) -> None:
        self.settings = settings
        self.counters: Counter[str] = Counter()
        self._state = NodeState.IDLE
        self._demand_a = 0.0
        self._own: Announcement | None = None  # our latest frame: our row of the table
        self._sent: deque[Announcement] = deque(maxlen=_OWN_ECHOES)
        self._announced_at: float | None = None
        self._sequence = 0
        self._peers: dict[int, _Peer] = {}
        self._silent: dict[int, Announcement] = {}  # dropped peers, by their last frame
        self._refused: dict[int, tuple[float, str]] = {}  # node → (when, why) of its latest frame
        self._started: float | None = None
        self._last_frame: float | None = None
        self._error: tuple[float, str] | None = None
        self._conflict_at: float | None = None
        self._served_since: float | None = None
        self._waiting_since: float | None = None
        self._allocation: dict[int, float] = {}
        self._table_changed = True  # the allocation is computed again only then
        self._target = 0.0
        self._why_fallback: str | None = None
        # (target, ended_at) of the targets that may still be the raise window's lowest,
        # values rising from the front; the current one never ends (inf).
        self._window: deque[tuple[float, float]] = deque()

    # --- input ----------------------------------------------------------------------------
    def set_own(self, now: float, state: NodeState, demand_a: float) -> bool:
        """Our state and demand; True when they differ enough from our last frame to send now."""
        if math.isnan(demand_a):
            raise ValueError("demand is NaN")
        if state in _QUIET_NODES or demand_a <= 0:
            demand_a = 0.0
        else:  # an EV that draws anything draws at least 6 A
            demand_a = deciamps(min(max(demand_a, MIN_CURRENT_A), MAX_CURRENT_A)) / 10
        self._state, self._demand_a = state, demand_a
        self._refresh(now)
        last = self._own
        return (
            last is None
            or last.state is not state
            or (last.demand_a > 0) != (demand_a > 0)
            or abs(last.demand_a - demand_a) >= MATERIAL_CHANGE_A
        )

    def announcement(self, now: float) -> Announcement:
        """Our frame's content, to send now (each call is one frame: the sequence moves on)."""
        self._refresh(now)
        waiting = served = 0
        if self._waiting_since is not None:
            waiting = min(TURN_MAX_S, max(1, int(now - self._waiting_since)))
        elif self._served_since is not None:
            served = min(TURN_MAX_S, max(1, int(now - self._served_since)))
        s = self.settings
        own = Announcement(s.node, self._state, self._demand_a, deciamps(s.group_limit_a) / 10, waiting,
                           self._sequence, served)  # fmt: skip
        self._sequence = (self._sequence + 1) % 256
        self._own, self._announced_at = own, now
        self._table_changed = True
        self._sent.append(own)
        self._refresh(now)
        return own

    def receive_frame(self, now: float, arbitration_id: int, data: bytes) -> None:
        """A sharing frame heard on the bus: decoded and counted, refused ones included."""
        self._last_frame = now  # whatever it says, the bus carries frames
        try:
            a = decode(arbitration_id, data)
        except FrameError as exc:
            self.counters[f"refused_{exc.reason}"] += 1
            if exc.reason != "id":
                self._refused[arbitration_id - BASE_ID] = (now, str(exc))
            self._refresh(now)
            return
        self.receive(now, a)

    def receive(self, now: float, a: Announcement) -> None:
        """A peer's announcement (or our own echo, or another device using our node id)."""
        self._last_frame = now
        self._refused.pop(a.node, None)
        if a.node == self.settings.node:
            if a in self._sent:
                self.counters["echo"] += 1
            else:
                self.counters["conflict"] += 1
                self._conflict_at = now
        else:
            self.counters["received"] += 1
            self._peers[a.node] = _Peer(a, now)
            self._silent.pop(a.node, None)
            self._table_changed = True
        self._refresh(now)

    def bus_error(self, now: float, text: str) -> None:
        """A send failed or the controller went bus-off: fall back for ``peer_timeout_s``."""
        self.counters["bus_error"] += 1
        self._error = (now, text)
        self._refresh(now)

    # --- output ---------------------------------------------------------------------------
    def decide(self, now: float) -> Decision:
        self._refresh(now)
        granted = self._window[0][0]
        amps = granted if granted >= MIN_CURRENT_A else None
        next_change = self._next_change(now)
        if self._why_fallback is not None:
            reason = f"{self._why_fallback}: fixed safe share {amps_text(self.settings.fallback_a)}"
            if granted < self._target:
                reason += " once the others had time to react"
            return Decision(amps, reason, "fallback", next_change)
        return Decision(amps, self._sharing_reason(granted), "sharing", next_change)

    def allocation(self, now: float) -> dict[int, float]:
        """Every live node's share (ours once we have announced), for display."""
        self._refresh(now)
        return dict(self._allocation)

    def state(self, now: float) -> str:
        """``conflict``, ``fallback``, ``alone`` or ``sharing``: what `evnetctl energy` shows."""
        self._refresh(now)
        if self._why_fallback is not None:
            return "conflict" if self._conflict_active(now) else "fallback"
        return "sharing" if self._peers else "alone"

    def next_deadline(self, now: float) -> float | None:
        """When to call again without new input: our next frame is due, or a decision may change."""
        self._refresh(now)
        own = self._own
        if own is None or self._announced_at is None:
            due = now
        elif (own.waiting_s > 0, own.served_s > 0) != (self._waiting_since is not None, self._served_since is not None):
            due = now  # we just got or lost a share: the others rank turns by our frame
        else:
            due = self._announced_at + self.settings.announce_s
        change = self._next_change(now)
        return due if change is None else min(due, change)

    # --- the table ------------------------------------------------------------------------
    def _refresh(self, now: float) -> None:
        s = self.settings
        if self._started is None:
            self._started = now
            self._window.append((0.0, math.inf))  # nothing granted before we start
        for node, peer in list(self._peers.items()):
            if reached(now, peer.heard_at, s.peer_timeout_s):
                del self._peers[node]
                self._silent[node] = peer.latest
                self._table_changed = True
        if self._table_changed:
            table = [peer.latest for peer in self._peers.values()]
            if self._own is not None:
                table.append(self._own)
            self._allocation = allocate(table, self._reserved_a())
            self._table_changed = False
        share = self._allocation.get(s.node, 0.0)
        if self._demand_a <= 0:
            self._served_since = self._waiting_since = None
        elif share > 0:
            self._waiting_since = None
            self._served_since = now if self._served_since is None else self._served_since
        else:
            self._served_since = None
            self._waiting_since = now if self._waiting_since is None else self._waiting_since
        self._why_fallback = self._fallback_reason(now)
        self._target = s.fallback_a if self._why_fallback is not None else share
        self._follow(now, self._target)

    def _reserved_a(self) -> float:
        fallback = self.settings.fallback_a
        if fallback < MIN_CURRENT_A:  # a silent peer in its fallback pauses
            return 0.0
        return sum(min(fallback, a.demand_a) for a in self._silent.values())

    def _follow(self, now: float, target: float) -> None:
        """Enter ``target`` in the raise window and drop what has left it."""
        window = self._window
        if window[-1][0] != target:
            window[-1] = (window[-1][0], now)
            while window and window[-1][0] >= target:
                window.pop()
            window.append((target, math.inf))
        while reached(now, window[0][1], self.settings.raise_delay_s):
            window.popleft()

    def _fallback_reason(self, now: float) -> str | None:
        s = self.settings
        if self._error is not None and not reached(now, self._error[0], s.peer_timeout_s):
            return f"CAN bus lost ({self._error[1]})"
        assert self._started is not None
        if self._last_frame is None:
            if not reached(now, self._started, s.peer_timeout_s):
                return "listening for the other chargers on the CAN bus"
            return f"CAN bus lost: no frame heard in {duration_text(now - self._started)}, not even our own"
        if reached(now, self._last_frame, s.peer_timeout_s):
            return f"CAN bus lost: no frame for {duration_text(now - self._last_frame)}, not even our own"
        if self._conflict_active(now):
            return f"node id {s.node} is used by another charger too: give each charger its own sharing node"
        for node in sorted(self._refused):
            at, why = self._refused[node]
            if not reached(now, at, s.peer_timeout_s):
                return f"cannot read charger {node} ({why})"
        return None

    def _conflict_active(self, now: float) -> bool:
        return self._conflict_at is not None and not reached(now, self._conflict_at, self.settings.peer_timeout_s)

    def _next_change(self, now: float) -> float | None:
        s = self.settings
        assert self._started is not None
        window_end = self._window[0][1]
        candidates = [window_end + s.raise_delay_s]
        candidates += [peer.heard_at + s.peer_timeout_s for peer in self._peers.values()]
        candidates += [at + s.peer_timeout_s for at, _ in self._refused.values()]
        heard = self._started if self._last_frame is None else self._last_frame
        for at in (heard, self._conflict_at, None if self._error is None else self._error[0]):
            if at is not None:
                candidates.append(at + s.peer_timeout_s)
        future = [t for t in candidates if t > now and math.isfinite(t)]
        return min(future) if future else None

    def _sharing_reason(self, granted: float) -> str:
        share = self._allocation.get(self.settings.node, 0.0)
        if self._own is None or self._demand_a <= 0 or self._own.demand_a <= 0:
            return "sharing: this charger wants no current"
        table = [self._own, *(peer.latest for peer in self._peers.values())]
        limit = group_limit(table)
        wanting = sum(1 for a in table if a.demand_a > 0)
        reserved = self._reserved_a()
        of = f"the {amps_text(limit)} group limit"
        if reserved:
            nodes = ", ".join(str(n) for n in sorted(self._silent) if self._silent[n].demand_a > 0)
            of += f" less {amps_text(reserved)} kept for silent charger(s) {nodes}"
        if share <= 0:
            slots = max(deciamps(limit) - deciamps(reserved), 0) // _MIN_DA
            return (f"sharing: waiting for a turn, {wanting} chargers want current and {of} gives 6 A to "
                    f"{slots} at most (turns rotate after {duration_text(ROTATE_AFTER_S)})")  # fmt: skip
        text = f"sharing: {amps_text(share)} of {of}, {wanting} of {len(table)} chargers want current"
        if granted < share:
            until = amps_text(granted) if granted >= MIN_CURRENT_A else "paused"
            text += f" (raising to it once the others have reduced, {until} until then)"
        return text
