"""What the Azure Functions host does for the function app, for the demo, the tests and the benchmarks.

The host itself cannot be installed here (its package downloads a binary), so these hand the
app's functions the same objects the host would: an ``EventGridEvent`` built from the event the
twin emitted, and each queued message as a ``QueueMessage``, deleted once handled. App Service
authentication, in front of the host, is played here too: the environment variable the platform
sets when it is on, and the header it sends for a signed-in person.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable, Mapping
from typing import Any

import azure.functions as func


def grid_event(event: Mapping[str, Any]) -> func.EventGridEvent:
    """An Event Grid schema event (as the twin emits it) as the Event Grid trigger receives it."""
    when = event.get("eventTime")
    return func.EventGridEvent(
        id=event["id"],
        data=event.get("data") or {},
        topic=event.get("topic", ""),
        subject=event.get("subject", ""),
        event_type=event.get("eventType", ""),
        event_time=datetime.datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None,
        data_version=event.get("dataVersion", ""),
    )


def drain(queue: Any, handle: Callable[[func.QueueMessage], None]) -> int:
    """Hand every message in ``queue`` (a QueueClient) to ``handle``, as the queue trigger; how many."""
    handled = 0
    while True:
        messages = list(queue.receive_messages(max_messages=32))
        if not messages:
            return handled
        for message in messages:
            handle(func.QueueMessage(id=message.id, body=message.content.encode()))
            queue.delete_message(message)
            handled += 1


# What App Service puts in the app's environment when authentication is on (Microsoft's "Environment
# variables and app settings reference": WEBSITE_AUTH_ENABLED, read-only, injected by the platform).
AUTHENTICATION_ON = {"WEBSITE_AUTH_ENABLED": "True"}


def signed_in(object_id: str, name: str, *roles: str) -> dict[str, str]:
    """The headers App Service authentication sends the app for a person signed in with Entra ID
    holding ``roles``: ``X-MS-CLIENT-PRINCIPAL``, base64 JSON in the shape Microsoft documents
    ("Work with user identities in Azure App Service authentication": auth_typ, claims of typ and
    val, name_typ, role_typ), with the claim types App Service maps Entra ID's tokens to, and the
    readable ``X-MS-CLIENT-PRINCIPAL-NAME`` and ``-ID`` beside it."""
    principal = {
        "auth_typ": "aad",
        "claims": [
            {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": object_id},
            {"typ": "preferred_username", "val": name},
            *({"typ": "roles", "val": role} for role in roles),
        ],
        "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
    }
    return {
        "X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(principal).encode("utf-8")).decode("ascii"),
        "X-MS-CLIENT-PRINCIPAL-ID": object_id,
        "X-MS-CLIENT-PRINCIPAL-NAME": name,
        "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
    }
