"""Every log line of a piece of work carries its correlation, event, resource and remediation ids."""

from __future__ import annotations

import logging
import threading

import pytest

from remediators.logcontext import install, log_context, set_remediation_id


def test_ids_reach_every_logger_inside_the_context_and_no_further(caplog: pytest.LogCaptureFixture) -> None:
    install()
    child = logging.getLogger("foundry_guard.worker")
    with caplog.at_level(logging.INFO):
        with log_context(event_id="e1", resource_id="/subscriptions/s/x"):
            child.info("inside")
            set_remediation_id("ab-1-2")
            logging.getLogger("azure.core").info("a library line")
        child.info("outside")
    inside, library, outside = caplog.records
    assert (inside.eventId, inside.resourceId, inside.remediationId) == ("e1", "/subscriptions/s/x", None)
    assert (library.eventId, library.remediationId) == ("e1", "ab-1-2")
    assert (outside.eventId, outside.resourceId) == (None, None)


def test_contexts_do_not_leak_between_threads(caplog: pytest.LogCaptureFixture) -> None:
    install()
    log = logging.getLogger("foundry_guard")
    seen: dict[str, str | None] = {}

    def work(event_id: str) -> None:
        with log_context(event_id=event_id):
            log.info(event_id)

    with caplog.at_level(logging.INFO):
        threads = [threading.Thread(target=work, args=(f"e{n}",)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for record in caplog.records:
        seen[record.getMessage()] = record.eventId
    assert seen == {f"e{n}": f"e{n}" for n in range(8)}


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown log context"), log_context(user="x"):
        pass
