"""Structured logs: every line of Foundry Guard's carries the ids that tie it to one piece of work,
and no line of anyone's carries a secret.

The triggers open a context (``with log_context(event_id=..., resource_id=...)``); everything
logged inside it, in any module, carries ``correlationId``, ``eventId``, ``resourceId`` and
``remediationId`` as record attributes, which Application Insights keeps as custom dimensions.
Context variables make this safe across the threads a Functions host runs work on.

Every record, from any library, is also redacted where it is made
(:func:`remediators.redaction.redact_record`): urllib3 writes a request's whole URL at DEBUG, a
Teams webhook's ``sig=`` included, and an SDK's error can quote a connection string. Every entry
point calls :func:`install` first: the function app, the CLI, the demo.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .redaction import redact_record

FIELDS = ("correlationId", "eventId", "resourceId", "remediationId")
_context: contextvars.ContextVar[dict[str, str | None]] = contextvars.ContextVar("foundry_guard_log_context")


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Add ids (``correlation_id``, ``event_id``, ``resource_id``, ``remediation_id``) for the block."""
    names = {"correlation_id": "correlationId", "event_id": "eventId", "resource_id": "resourceId",
             "remediation_id": "remediationId"}  # fmt: skip
    unknown = set(ids) - set(names)
    if unknown:
        raise TypeError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    current = dict(_context.get({}))
    current.update({names[key]: value for key, value in ids.items() if value is not None})
    token = _context.set(current)
    try:
        yield
    finally:
        _context.reset(token)


def set_remediation_id(remediation_id: str) -> None:
    """Name the remediation once it exists, for the rest of the current context (outside one: no effect)."""
    current = _context.get(None)
    if current is not None:
        current["remediationId"] = remediation_id  # this context's own dict: gone when the block ends


_installed = False


def install(logger_name: str = "foundry_guard") -> logging.Logger:
    """Make every log record, from any logger, carry the current context's ids (``None`` where unknown)
    and its message formatted once and redacted.

    A record factory rather than a filter: filters on a logger do not see its children's records,
    and the Functions host owns the handlers. The factory runs only for records a logger's level lets
    through, so the formatting costs nothing for lines nobody keeps.
    """
    global _installed
    if not _installed:
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            current = _context.get({})
            for name in FIELDS:
                setattr(record, name, current.get(name))
            redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
    return logging.getLogger(logger_name)
