"""The durable transaction-message queue: order, durability under kill -9, retries, transaction ids."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evnetd.ocpp.queue import MessageQueue

REPO = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"


@pytest.fixture
def queue(path: Path) -> Iterator[MessageQueue]:
    q = MessageQueue(path)
    yield q
    q.close()


def start(id_tag: str = "TAG1") -> dict[str, Any]:
    return {"connector_id": 1, "id_tag": id_tag, "meter_start": 1000, "timestamp": "2023-11-14T22:13:20Z"}


def stop() -> dict[str, Any]:
    return {"meter_stop": 2000, "timestamp": "2023-11-14T23:13:20Z", "transaction_id": None, "reason": "Local"}


def meter(value: str = "1500") -> dict[str, Any]:
    sample = {"timestamp": "2023-11-14T22:30:00Z", "sampled_value": [{"value": value}]}
    return {"connector_id": 1, "meter_value": [sample], "transaction_id": None}


def actions(queue: MessageQueue) -> list[str]:
    return [m.action for m in queue.peek_many(100)]


# -- order and durability ------------------------------------------------------------------


def test_head_is_the_oldest_and_delivery_keeps_order(queue: MessageQueue) -> None:
    first = queue.push("StartTransaction", start(), "1", now=T0)
    second = queue.push("MeterValues", meter(), "1", now=T0)
    third = queue.push("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": "x", "tech_info": None})
    assert first.seq < second.seq < third.seq
    assert len(queue) == 3
    assert queue.head() == first
    queue.delivered(first.seq)
    assert queue.head() == second
    queue.delivered(second.seq)
    queue.delivered(third.seq)
    assert queue.head() is None
    assert len(queue) == 0


def test_seq_is_never_reused_after_the_newest_is_delivered(queue: MessageQueue) -> None:
    old = queue.push("MeterValues", meter(), now=T0)
    queue.delivered(old.seq)
    assert queue.push("MeterValues", meter(), now=T0).seq > old.seq


def test_messages_survive_a_reopen_and_waits_do_not(path: Path) -> None:
    q = MessageQueue(path)
    pushed = q.push("StartTransaction", start(), "7", now=T0)
    q.push("MeterValues", meter(), "7", now=T0)
    assert q.failed(pushed.seq, T0, max_attempts=5, retry_interval_s=60)
    q.close()

    reopened = MessageQueue(path)
    try:
        head = reopened.head()
        assert head is not None
        assert (head.seq, head.action, head.payload, head.session_key) == (pushed.seq, "StartTransaction", start(), "7")
        assert head.attempts == 1
        assert head.not_before == 0  # a restart outlasts any retry wait: due at once
        assert actions(reopened) == ["StartTransaction", "MeterValues"]
    finally:
        reopened.close()


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from evnetd.ocpp.queue import MessageQueue

    queue = MessageQueue(Path(sys.argv[1]))
    n = 0
    while True:
        n += 1
        key = str(n)
        start = queue.push_start(key, {"connector_id": 1, "id_tag": "T", "meter_start": n, "timestamp": "t"})
        print("start", key, start.seq, flush=True)
        values = queue.push("MeterValues", {"connector_id": 1, "meter_value": [], "transaction_id": None}, key)
        print("meter", key, values.seq, flush=True)
        stop = queue.push_stop(key, {"meter_stop": n, "timestamp": "t", "transaction_id": None})
        print("stop", key, stop.seq, flush=True)
    """
)


def test_sigkill_loses_nothing_that_push_returned(path: Path) -> None:
    """A real kill -9 while pushing: every message whose push returned is on disk, no half-done push_start."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    reported = [child.stdout.readline().split() for _ in range(40)]
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    reported += [line.split() for line in child.stdout.read().splitlines() if line.count(" ") == 2]
    child.stdout.close()

    queue = MessageQueue(path)
    try:
        on_disk = {m.seq: m for m in queue.peek_many(1_000_000)}
        for action, key, seq in reported:
            assert int(seq) in on_disk, f"{action} of session {key} lost"
            assert on_disk[int(seq)].session_key == key
        for key, record in queue.sessions_seen().items():
            queued = {m.action for m in on_disk.values() if m.session_key == key}
            assert record.start_queued == ("StartTransaction" in queued)
            assert record.stop_queued == ("StopTransaction" in queued)
        assert list(on_disk) == sorted(on_disk)
    finally:
        queue.close()


# -- retries -------------------------------------------------------------------------------


def test_three_attempts_means_exactly_three_sends_then_dropped(queue: MessageQueue) -> None:
    first = queue.push("StartTransaction", start(), "1", now=T0)
    queue.push("MeterValues", meter(), "1", now=T0)
    sends = 0
    now = T0
    while (head := queue.head()) is not None and head.seq == first.seq:
        now = max(now, head.not_before)
        sends += 1
        if not queue.failed(head.seq, now, max_attempts=3, retry_interval_s=60):
            break
    assert sends == 3
    assert actions(queue) == ["MeterValues"]


def test_retry_waits_the_interval_times_the_sends_so_far(queue: MessageQueue) -> None:
    seq = queue.push("StopTransaction", stop(), now=T0).seq
    assert queue.failed(seq, T0 + 5, max_attempts=4, retry_interval_s=60)
    head = queue.head()
    assert head is not None and (head.attempts, head.not_before) == (1, T0 + 5 + 60)
    assert queue.failed(seq, T0 + 100, max_attempts=4, retry_interval_s=60)
    head = queue.head()
    assert head is not None and (head.attempts, head.not_before) == (2, T0 + 100 + 120)
    assert queue.failed(seq, T0 + 300, max_attempts=4, retry_interval_s=60)
    head = queue.head()
    assert head is not None and head.not_before == T0 + 300 + 180
    assert not queue.failed(seq, T0 + 500, max_attempts=4, retry_interval_s=60)
    assert len(queue) == 0


def test_a_new_message_is_due_at_once(queue: MessageQueue) -> None:
    assert queue.push("MeterValues", meter(), now=T0).not_before == T0


def test_zero_attempts_still_sends_once(queue: MessageQueue) -> None:
    seq = queue.push("MeterValues", meter(), now=T0).seq
    assert not queue.failed(seq, T0, max_attempts=0, retry_interval_s=0)
    assert len(queue) == 0


def test_failure_of_a_message_no_longer_queued_is_ignored(queue: MessageQueue) -> None:
    assert not queue.failed(12345, T0, max_attempts=3, retry_interval_s=1)


# -- transaction ids -----------------------------------------------------------------------


def test_binding_patches_every_queued_message_of_the_session(queue: MessageQueue) -> None:
    queue.push_start("1", start(), now=T0)
    queue.push("MeterValues", meter(), "1", now=T0)
    queue.push("MeterValues", meter(), "2", now=T0)  # another session: untouched
    queue.push_stop("1", stop(), now=T0)
    queue.bind_transaction("1", 42)
    payloads = {(m.action, m.session_key): m.payload for m in queue.peek_many(10)}
    assert "transaction_id" not in payloads[("StartTransaction", "1")]
    assert payloads[("MeterValues", "1")]["transaction_id"] == 42
    assert payloads[("StopTransaction", "1")]["transaction_id"] == 42
    assert payloads[("MeterValues", "2")]["transaction_id"] is None
    assert queue.transaction_id("1") == 42
    assert queue.transaction_id("2") is None


def test_a_bound_id_is_filled_into_later_pushes_and_persisted(path: Path) -> None:
    q = MessageQueue(path)
    q.bind_transaction("5", 0)  # 0 is a valid transaction id (errata 3.54)
    assert q.push("MeterValues", meter(), "5", now=T0).payload["transaction_id"] == 0
    q.close()
    reopened = MessageQueue(path)
    try:
        assert reopened.transaction_id("5") == 0
    finally:
        reopened.close()


def test_delivered_start_binds_and_forgets_in_one_step(queue: MessageQueue) -> None:
    message = queue.push_start("3", start(), now=T0)
    assert message is not None
    queue.push_stop("3", stop(), now=T0)
    queue.delivered_start(message.seq, 99, parent_id_tag="PARENT")
    assert actions(queue) == ["StopTransaction"]
    record = queue.session_state("3")
    assert record is not None
    assert (record.transaction_id, record.parent_id_tag, record.id_tag) == (99, "PARENT", "TAG1")
    head = queue.head()
    assert head is not None and head.payload["transaction_id"] == 99


def test_minus_one_after_the_start_was_dropped(queue: MessageQueue) -> None:
    start_seq = queue.push("StartTransaction", start(), "1", now=T0).seq
    queue.push("MeterValues", meter(), "1", now=T0)
    for _ in range(2):
        queue.failed(start_seq, T0, max_attempts=2, retry_interval_s=0)
    head = queue.head()
    assert head is not None and head.action == "MeterValues"
    assert queue.unbound_payload(head)["transaction_id"] == -1
    assert head.payload["transaction_id"] is None  # the stored payload waits for a late conf
    record = queue.session_state("1")
    assert record is not None and record.start_dropped

    queue.bind_transaction("1", 7)  # the conf arrived after all
    head = queue.head()
    assert head is not None and queue.unbound_payload(head)["transaction_id"] == 7


def test_unbound_payload_waits_while_the_start_is_queued(queue: MessageQueue) -> None:
    queue.push_start("1", start(), now=T0)
    values = queue.push("MeterValues", meter(), "1", now=T0)
    assert queue.unbound_payload(values)["transaction_id"] is None
    queue.start_dropped("1")
    record = queue.session_state("1")
    assert record is not None and record.start_dropped


def test_unbound_payload_leaves_other_messages_alone(queue: MessageQueue) -> None:
    clock = queue.push("MeterValues", {"connector_id": 1, "meter_value": []}, now=T0)
    assert queue.unbound_payload(clock) == {"connector_id": 1, "meter_value": []}


# -- sessions ------------------------------------------------------------------------------


def test_start_and_stop_are_queued_once_per_session(queue: MessageQueue) -> None:
    assert queue.push_start("1", start(), now=T0) is not None
    assert queue.push_start("1", start(), now=T0) is None
    assert queue.push_stop("1", stop(), now=T0) is not None
    assert queue.push_stop("1", stop(), now=T0) is None
    assert actions(queue) == ["StartTransaction", "StopTransaction"]
    seen = queue.sessions_seen()
    assert list(seen) == ["1"]
    assert seen["1"].start_queued and seen["1"].stop_queued
    assert queue.session_state("2") is None


def test_stop_before_start_is_refused_and_leaves_nothing(queue: MessageQueue) -> None:
    with pytest.raises(ValueError, match="before StartTransaction"):
        queue.push_stop("9", stop(), now=T0)
    assert len(queue) == 0
    assert queue.session_state("9") is None


def test_a_push_start_that_fails_marks_nothing(queue: MessageQueue) -> None:
    bad = {**start(), "meter_start": math.nan}  # not JSON: refused inside the transaction
    with pytest.raises(ValueError):
        queue.push_start("1", bad, now=T0)
    assert len(queue) == 0
    assert queue.session_state("1") is None
    assert queue.push_start("1", start(), now=T0) is not None


def test_set_parent_is_remembered(queue: MessageQueue) -> None:
    queue.push_start("1", start(), now=T0)
    queue.set_parent("1", "GROUP")
    record = queue.session_state("1")
    assert record is not None and record.parent_id_tag == "GROUP" and record.start_queued


# -- overflow ------------------------------------------------------------------------------


def test_overflow_drops_the_oldest_meter_values_never_start_or_stop(path: Path) -> None:
    queue = MessageQueue(path, max_messages=4)
    try:
        queue.push("MeterValues", meter("head"), now=T0)  # the head may be in flight: kept
        queue.push_start("1", start(), now=T0)
        for n in range(4):
            queue.push("MeterValues", meter(str(n)), "1", now=T0)
        queue.push_stop("1", stop(), now=T0)
        kept = queue.peek_many(10)
        assert [m.action for m in kept] == ["MeterValues", "StartTransaction", "MeterValues", "StopTransaction"]
        assert [
            m.payload["meter_value"][0]["sampled_value"][0]["value"] for m in kept if m.action == "MeterValues"
        ] == [
            "head",
            "3",
        ]
        for n in range(2, 5):
            queue.push_start(str(n), start(), now=T0)
        assert actions(queue) == ["MeterValues", "StartTransaction", "StopTransaction", *["StartTransaction"] * 3]
        assert len(queue) == 6  # nothing left to drop: Start/Stop are kept over the limit
    finally:
        queue.close()


def test_payloads_round_trip_as_json(queue: MessageQueue) -> None:
    payload = {"connector_id": 1, "meter_value": [{"timestamp": "t", "sampled_value": [{"value": "1"}]}]}
    queue.push("MeterValues", payload, now=T0)
    head = queue.head()
    assert head is not None and head.payload == json.loads(json.dumps(payload))
