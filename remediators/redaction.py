"""Keys, tokens and signatures out of anything Foundry Guard writes: notifications and log records.

:func:`redact` replaces what looks like a secret in free text: connection-string and query-string
values (``AccountKey=``, ``SharedAccessKey=``, ``SharedAccessSignature=``, ``sig=``, ``code=``,
``key=``, ``token=``, ``password=``...), JSON or header values under names that can only mean a
credential (``"primaryMasterKey": ...``, ``x-functions-key: ...``, ``'x-identity-header': ...``),
``Bearer``/``Basic``/``SharedAccessSignature`` credentials, JSON web tokens, bare Storage and Cosmos
DB account keys (64 bytes in base64), and passwords in URLs.

:func:`redact_record` applies it to a log record once, where it is made
(:func:`remediators.logcontext.install` puts it in the record factory), so every library's lines
are covered, urllib3's (which quote a request's whole URL, a Teams webhook's signature included)
as much as Foundry Guard's own.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

_SECRET_TEXT = (
    # Connection strings and query strings: AccountKey=..., SharedAccessSignature=..., sig=..., code=...
    re.compile(
        r"(?i)(?<![A-Za-z0-9_-])(account[-_]?key|shared[-_]?access[-_]?key|shared[-_]?access[-_]?signature|"
        r"access[-_]?key|api[-_]?key|client[-_]?secret|secret|password|pwd|sig|code|key|token|access[-_]?token|"
        r"refresh[-_]?token|sas[-_]?token)(\s*=\s*)[^\s;&,\"'<>]+"
    ),
    # JSON, header or Python-repr style, for names that can only mean a credential: "primaryMasterKey": "...",
    # api-key: ..., 'x-identity-header': '...'
    re.compile(
        r"(?i)((?:primary|secondary)(?:master|readonlymaster)?key|account[-_]?key|api[-_]?key|x-functions-key|"
        r"ocp-apim-subscription-key|client[-_]?secret|password|connection[-_]?string|sas[-_]?token|access[-_]?token|"
        r"refresh[-_]?token|x-identity-header|aeg-sas-key|aeg-sas-token)([\"']?\s*:\s*[\"']?)[^\s;&,\"'<>]+"
    ),
    re.compile(r"(?i)\b(bearer|basic|sharedaccesssignature)(\s+)[A-Za-z0-9._~+/=%-]{8,}"),
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_ACCOUNT_KEY = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==")  # a Storage or Cosmos DB key, bare
_URL_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")


def redact(text: str) -> str:
    """``text`` with anything that looks like a key, token, connection-string secret or SAS signature replaced."""
    for pattern in _SECRET_TEXT:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _ACCOUNT_KEY.sub(REDACTED, text)
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def redact_record(record: logging.LogRecord) -> None:
    """Format ``record``'s message once, redacted, and keep only that: ``msg`` the text, no ``args``.

    Its traceback, when it has one, is rendered now too, redacted, as the ``exc_text`` every
    ``logging.Formatter`` prints; ``exc_info`` is dropped, so no handler renders the exception's own
    text again (an exception's message often quotes the URL it failed on).
    """
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: keep both, as text, rather than fail the caller
        message = f"{record.msg!s} (arguments: {record.args!r})"
    record.msg = redact(message)
    record.args = ()
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
