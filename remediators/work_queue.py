"""The work queue between the fast triggers and the worker, with a claim check for large messages.

Azure Queue storage refuses a message over 64 KiB, counted after encoding (Microsoft's Put Message
reference: "The encoded message can be up to 64 KiB"; Azurite 3.35 refuses the same with 413
RequestBodyTooLarge), and the Functions queue trigger reads base64, so a message's JSON may be
at most 48 KiB. A signal's message is a few KiB (:mod:`remediators.limits`); whatever still
exceeds the limit goes by claim check (Microsoft's Claim-Check pattern): its body is kept in a
row of the ``claims`` table and the message holds only ``{"claim": "<id>"}``. The queue trigger
opens the message, does the work, then forgets the claim; a retry of the same message finds the
claim still there.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import arm_json
from .limits import MAX_BODY_BYTES

# Put Message's limit on a message as sent (after base64): a message over it goes by claim check.
QUEUE_MESSAGE_LIMIT_BYTES = 64 * 1024
CLAIM = "claim"
# A claim's body is kept as binary properties of at most 64 KiB each (Table storage's limit for one
# property), under the 1 MiB an entity holds: up to 15 parts.
_PART_BYTES = 64 * 1024
_MAX_PARTS = 15


class MessageTooLarge(ValueError):
    """A message too large even for a claim (more than 15 parts of 64 KiB)."""


class ClaimGone(LookupError):
    """The message's claim is not there: its work was done and the claim forgotten (a redelivery)."""


@dataclass(frozen=True)
class Opened:
    """A work message's document, and the claim it came from (``None`` when it came inline)."""

    document: Any
    claim: str | None = None


class WorkQueue:
    CLAIMS = "claims"

    def __init__(self, queue: Any, claims: Any | None) -> None:
        self.queue = queue  # an azure.storage.queue.QueueClient (base64 messages)
        self._claims = claims  # an azure.data.tables.TableClient, or None: no claim check

    @classmethod
    def on(cls, queue: Any, tables: Any) -> WorkQueue:
        """The work queue, with its claims table in ``tables`` (a TableServiceClient)."""
        return cls(queue, tables.create_table_if_not_exists(cls.CLAIMS))

    def send(self, document: Mapping[str, Any], *, delay_seconds: float = 0) -> str | None:
        """Queue ``document`` (hidden for ``delay_seconds``); the claim's id when it went by claim check."""
        text = json.dumps(document, separators=(",", ":"))
        body = text.encode("utf-8")
        claim = None
        if _encoded_size(body) > QUEUE_MESSAGE_LIMIT_BYTES:
            claim = self._keep(body)
            text = json.dumps({CLAIM: claim}, separators=(",", ":"))
        self.queue.send_message(text, visibility_timeout=int(delay_seconds) or None)
        return claim

    def open(self, body: str | bytes) -> Opened:
        """A message as the queue trigger hands it over: its document, read from its claim if it has
        one. Raises ``ValueError`` (``arm_json.TooLarge``, ``TooDeep``...) for a body that is not
        usable JSON and :class:`ClaimGone` for a claim already forgotten."""
        document = arm_json.loads(body, max_bytes=MAX_BODY_BYTES)
        if not (isinstance(document, dict) and set(document) == {CLAIM}):
            return Opened(document)
        claim = document[CLAIM]
        if not isinstance(claim, str) or not _is_claim_id(claim) or self._claims is None:
            raise ValueError("a claim message names a claim this queue did not make")
        from azure.core.exceptions import ResourceNotFoundError

        try:
            row = self._claims.get_entity(claim[:2], claim)
        except ResourceNotFoundError:
            raise ClaimGone(f"claim {claim} is gone: its work was done") from None
        kept = b"".join(bytes(row[f"Part{n}"]) for n in range(int(row["Parts"])))
        return Opened(arm_json.loads(kept, max_bytes=_MAX_PARTS * _PART_BYTES), claim)

    def forget(self, opened: Opened) -> None:
        """Delete the message's claim, once its work is done (nothing for an inline message)."""
        if opened.claim is None or self._claims is None:
            return
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self._claims.delete_entity(opened.claim[:2], opened.claim)

    def _keep(self, body: bytes) -> str:
        parts = [body[start : start + _PART_BYTES] for start in range(0, len(body), _PART_BYTES)]
        if self._claims is None or len(parts) > _MAX_PARTS:
            raise MessageTooLarge(
                f"a work message of {len(body)} bytes is over the queue's {QUEUE_MESSAGE_LIMIT_BYTES} "
                "bytes and cannot go by claim check"
            )
        claim = secrets.token_hex(16)
        entity: dict[str, Any] = {"PartitionKey": claim[:2], "RowKey": claim, "Parts": len(parts), "Bytes": len(body)}
        entity.update({f"Part{n}": part for n, part in enumerate(parts)})
        self._claims.create_entity(entity)
        return claim


def _encoded_size(body: bytes) -> int:
    return 4 * ((len(body) + 2) // 3)  # base64


def _is_claim_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)
