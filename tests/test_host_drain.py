"""The twin of the Functions host's queue trigger (``emulator.host.drain``) against a real Azurite:
a failed message stays and comes back with its dequeue count up, then moves to the poison queue,
as host.json says. No wall clock: retries are made visible at once with a zero visibility timeout,
and a non-zero one is shown by what is left hidden, not by waiting for it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from emulator import azurite
from emulator.host import QUEUE_TRIGGER, ROOT, QueueTriggerSettings, drain, poison_queue
from remediators.storage import clients


@pytest.fixture(scope="module")
def storage() -> Iterator[azurite.Azurite]:
    with azurite.running() as running:
        yield running


@pytest.fixture
def queue(storage: azurite.Azurite) -> Any:
    _, queue = clients(storage.connection_string, f"drain-{secrets.token_hex(4)}", None)
    return queue


def test_host_json_sets_the_queue_trigger_explicitly_and_the_drain_reads_it() -> None:
    """Before: host.json had no extensions.queues (the host's defaults applied, unstated) and the
    drain neither retried nor poisoned: it deleted every message it was handed, or stopped."""
    queues = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))["extensions"]["queues"]
    assert queues["maxDequeueCount"] == QUEUE_TRIGGER.max_dequeue_count == 5
    assert queues["visibilityTimeout"] == "00:00:30" and QUEUE_TRIGGER.visibility_timeout_seconds == 30
    assert queues["messageEncoding"] == "base64"  # what the work queue's clients write


def test_a_failing_message_is_retried_with_a_rising_dequeue_count_then_poisoned(queue: Any) -> None:
    """Before: the handler's exception escaped the drain after one try; nothing was retried and
    nothing reached ``<queue>-poison``."""
    queue.send_message("fails")
    queue.send_message("works")
    seen: list[tuple[str, int | None]] = []

    def handle(message: func.QueueMessage) -> None:
        body = message.get_body().decode()
        seen.append((body, message.dequeue_count))
        if body == "fails":
            raise RuntimeError("the handler failed")

    assert drain(queue, handle, visibility_timeout_seconds=0) == 1
    assert [count for body, count in seen if body == "fails"] == [1, 2, 3, 4, 5]
    assert queue.peek_messages(max_messages=5) == []
    [poisoned] = poison_queue(queue).receive_messages()
    assert poisoned.content == "fails"


def test_a_failed_message_waits_out_the_visibility_timeout_hidden_not_lost(queue: Any) -> None:
    """With host.json's 30 s, a failed message is hidden, not retried at once and not deleted."""
    queue.send_message("fails once")
    tries: list[int | None] = []

    def handle(message: func.QueueMessage) -> None:
        tries.append(message.dequeue_count)
        raise RuntimeError("not now")

    assert drain(queue, handle) == 0
    assert tries == [1]
    assert queue.peek_messages(max_messages=5) == []  # hidden...
    assert queue.get_queue_properties().approximate_message_count == 1  # ...not gone
    # A host allowing one try moves a message to the poison queue at its first failure.
    queue.send_message("fails for good")
    one_try = QueueTriggerSettings(max_dequeue_count=1, visibility_timeout_seconds=30)
    assert drain(queue, handle, settings=one_try) == 0
    [poisoned] = poison_queue(queue).receive_messages()
    assert poisoned.content == "fails for good"
