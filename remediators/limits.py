"""How much any input may hold: the caps every entry point applies, in one place.

Each entry point (HTTP bodies, Event Grid event data, queue messages) refuses what is over a cap
with a clear answer (a 400 or 413 problem body, or a logged refusal) before doing any work for it,
so no input can cost a RecursionError, a traceback, seconds of CPU or megabytes of answer. Each
cap is far above what Azure itself sends, and says why.
"""

from __future__ import annotations

# Event Grid refuses events over 1 MB (Microsoft's Event Grid quotas and limits: "Event size"),
# and an action group's alert or an ARM resource body is far smaller; one MiB holds any of them.
# A larger body is answered 413 without being parsed.
MAX_BODY_BYTES = 1024 * 1024

# ARM resource bodies, events and alerts nest about a dozen levels (a Resource Notifications
# event's data.resourceInfo.properties.networkAcls.ipRules[0].value is eight). Python's JSON
# parser, and every recursive walk after it, fails near 1,000 (RecursionError); 64 refuses a
# nesting bomb at once and leaves room for any real document.
MAX_JSON_DEPTH = 64

# The ids of the guarded types are short: a subscription GUID, a group of at most 90 characters,
# a provider and type, and a name of at most 64 (Cosmos DB 44, Search 60, Storage 24, Cognitive
# Services 64), under 300 characters in all, and an alert id is an ARM id too. 1,024 leaves room
# for child resources and never lets one id fill a queue message or a log line.
MAX_RESOURCE_ID_CHARS = 1024

# The ledger's remediation ids are about 30 characters (partition, creation time, randomness),
# made of lowercase hex digits and dashes. A route id longer than this, or holding anything but
# letters, digits, "-", "_" and ".", names no remediation and is answered 404 without a lookup.
MAX_REMEDIATION_ID_CHARS = 128

# One delivery (an event, or an alert posted to /api/alerts) queues at most this many resources.
# A fired alert names one resource in every shape Microsoft documents (a metric alert fires per
# resource, a log search alert split by _ResourceId per dimension value), so 50 is far above any
# real alert; it keeps one delivery to at most 150 storage calls (a seen-check, a message and a
# mark per resource), well inside the seconds an action group waits for its webhook (it retries on
# 408, 429, 503 and 504: Microsoft's action groups page, webhook rules) and Event Grid's 30 s.
# Resources over the cap are refused with a line saying so; the rest are queued.
MAX_RESOURCES_PER_ALERT = 50

# Every text a signal carries to the worker (operation name, correlation id, who acted, the
# alert's rule, query and link...) is cut to this many characters of JSON (``\uXXXX`` escapes
# count as six), so a signal's queue message and the trigger the ledger records for it stay a
# few KiB: about 21 texts and up to ALERT_TARGETS_PER_SIGNAL ids stay under 32K characters, the
# most a Table storage string property holds (64 KiB of UTF-16; Microsoft's "Understanding the
# Table service data model"). Real values are under 300 characters; a link that would be cut is
# dropped instead (a cut link leads nowhere).
MAX_SIGNAL_TEXT_CHARS = 1024

# A log search alert's targets are the workspaces it queried; a signal for one of the resources
# its rows named keeps at most this many of them (an alert rule's scope is usually one workspace).
# A signal for one of an alert's own targets keeps only that target.
ALERT_TARGETS_PER_SIGNAL = 3
