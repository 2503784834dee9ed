"""Who is asking, and may they: the person App Service authentication signed in, and their app roles.

App Service authentication checks the caller's Entra ID token in front of the app and hands the
result to it as a request header, ``X-MS-CLIENT-PRINCIPAL``: base64-encoded JSON
``{"auth_typ": "aad", "claims": [{"typ": ..., "val": ...}], "name_typ": ..., "role_typ": ...}``
(Microsoft's "Work with user identities in Azure App Service authentication",
https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities). With
authentication on, the platform strips any such header a client sends and sets its own; with it
off, anyone can send one. So the header is believed only when the platform says authentication is
on: ``WEBSITE_AUTH_ENABLED``, which App Service injects, read-only, into the app's environment
(Microsoft's "Environment variables and app settings reference",
https://learn.microsoft.com/azure/app-service/reference-app-settings), read as the Functions host
reads it (``HostEasyAuthOptionsSetup`` in Azure/azure-functions-host: a boolean, or a number other
than 0). No ``GUARD_*`` setting switches this off.

``X-MS-CLIENT-PRINCIPAL-NAME`` is never read: the name, like the object id and the roles, comes
from the claims, and a name that could forge a log line or a ledger entry (control characters) is
refused.

The app roles are declared here, once (:data:`ROLES`); the app registration the deployment keeps
(``infra/auth/*.json``, written by ``python -m remediators infra --write``) declares the same. A
role assigned to a person arrives in their token's ``roles`` claim; ``Remediation.Approve``
implies ``Remediation.Read``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

HEADER = "X-MS-CLIENT-PRINCIPAL"
AUTH_ENABLED = "WEBSITE_AUTH_ENABLED"

READ = "Remediation.Read"
APPROVE = "Remediation.Approve"

# Kestrel's default limit on all request headers together (MaxRequestHeadersTotalSize, 32 KB): a
# principal header longer than that did not come from the platform.
MAX_HEADER_CHARS = 32 * 1024
MAX_NAME_CHARS = 256

# Claim types as App Service authentication maps them (the .NET claim type URIs) and as Entra ID's
# v2.0 tokens name them (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
# What a person on call recognises first: the sign-in name; then a display name; an application
# calling with its own token (a reader) has only its client id.
NAME_CLAIMS = (
    "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "email",
    "name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "azp",
    "appid",
)

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional overrides and
# isolates (text that reads differently from what it is).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Seeds the app registration's role and scope ids (uuid5 of their values): the same on every deployment.
ID_NAMESPACE = uuid.UUID("6f1c4a52-9d0e-4b7a-8c3f-2e5d7a9b1c04")


@dataclass(frozen=True)
class AppRole:
    """An app role of the API's app registration (Microsoft Graph ``appRole``)."""

    value: str  # what the token's roles claim carries
    display_name: str
    description: str
    member_types: tuple[str, ...]  # Graph allowedMemberTypes: "User" (people and groups), "Application"

    @property
    def id(self) -> str:
        """Stable across deployments: Graph refuses to change or drop an enabled role's id."""
        return str(uuid.uuid5(ID_NAMESPACE, self.value))


ROLES: tuple[AppRole, ...] = (
    AppRole(
        READ,
        "Read remediations",
        "Read the remediation ledger, classify resources and plan fixes (GET /api/remediations, "
        "POST /api/classify, POST /api/remediate with action plan). Changes nothing.",
        ("User", "Application"),
    ),
    AppRole(
        APPROVE,
        "Approve remediations",
        "Approve or reject proposed fixes and apply fixes on demand (POST /api/remediations/{id}/approve "
        "and /reject, POST /api/remediate with action apply). Includes Read.",
        ("User",),
    ),
)
# A role and the roles it grants besides itself.
IMPLIES: dict[str, frozenset[str]] = {APPROVE: frozenset({READ})}


class AccessDenied(Exception):
    """The caller may not do this; ``status`` is the HTTP answer (401 or 403)."""

    status = 403


class NotSignedIn(AccessDenied):
    """No principal the platform vouches for: authentication off, no header, or a header that is not one."""

    status = 401


class MissingRole(AccessDenied):
    """A signed-in principal without the app role the request needs."""

    status = 403


@dataclass(frozen=True)
class Principal:
    """A caller App Service authentication signed in: Entra ID object id, readable name, app roles held."""

    object_id: str
    name: str
    roles: frozenset[str]

    def granting(self, role: str) -> str | None:
        """The role held that grants ``role`` (itself first, then one implying it); ``None`` if none does."""
        if role in self.roles:
            return role
        return next((held for held in sorted(self.roles) if role in IMPLIES.get(held, ())), None)


def authentication_enabled(environ: Mapping[str, str]) -> bool:
    """Whether App Service authentication is on for this app, as the platform tells it."""
    value = environ.get(AUTH_ENABLED, "").strip()
    if value.casefold() in ("true", "false"):
        return value.casefold() == "true"
    try:
        return int(value) != 0
    except ValueError:
        return False


def principal_from_headers(headers: Mapping[str, str], environ: Mapping[str, str]) -> Principal:
    """The signed-in principal of a request. Raises :class:`NotSignedIn` (never anything else)."""
    if not authentication_enabled(environ):
        raise NotSignedIn(
            "App Service authentication is not enabled on this app, so no caller can be identified; "
            "it must be on for this request (docs/deployment.md)"
        )
    encoded = _header(headers, HEADER)
    if not encoded:
        raise NotSignedIn("not signed in: call with an Entra ID access token for this app")
    if len(encoded) > MAX_HEADER_CHARS:
        raise NotSignedIn(f"the {HEADER} header is longer than {MAX_HEADER_CHARS} characters")
    try:
        document = json.loads(base64.b64decode(encoded.strip(), validate=True))
    except (binascii.Error, ValueError, RecursionError):  # not base64; not UTF-8 or not JSON (ValueErrors)
        raise NotSignedIn(f"the {HEADER} header is not base64-encoded JSON") from None
    claims = _claims(document)
    if str(document.get("auth_typ", "")).casefold() != "aad":
        raise NotSignedIn("signed in with a provider other than Microsoft Entra ID")
    object_ids = {value.casefold() for typ, value in claims if typ in OBJECT_ID_CLAIMS}
    if len(object_ids) != 1 or not _GUID.fullmatch(next(iter(object_ids))):
        raise NotSignedIn("the signed-in principal carries no single Entra ID object id")
    (object_id,) = object_ids
    name = _name(claims, str(document.get("name_typ") or ""), object_id)
    role_types = {*ROLE_CLAIMS, str(document.get("role_typ") or "roles")}
    declared = {role.value for role in ROLES}
    roles = frozenset(value for typ, value in claims if typ in role_types and value in declared)
    return Principal(object_id, name, roles)


def require(principal: Principal, role: str) -> str:
    """The role ``principal`` holds that grants ``role``. Raises :class:`MissingRole`."""
    held = principal.granting(role)
    if held is None:
        raise MissingRole(f"{principal.name} ({principal.object_id}) does not hold the app role {role}")
    return held


def authorize(headers: Mapping[str, str], environ: Mapping[str, str], role: str) -> Principal:
    """The signed-in principal, if it holds ``role``. Raises :class:`NotSignedIn` or :class:`MissingRole`."""
    principal = principal_from_headers(headers, environ)
    require(principal, role)
    return principal


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict: header names are case-insensitive (RFC 9110, section 5.1)
        value = next((v for k, v in headers.items() if k.casefold() == name.casefold()), None)
    return value


def _claims(document: object) -> list[tuple[str, str]]:
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        raise NotSignedIn(f"the {HEADER} header holds no claims")
    claims = []
    for claim in document["claims"]:
        if not (isinstance(claim, dict) and isinstance(claim.get("typ"), str) and isinstance(claim.get("val"), str)):
            raise NotSignedIn(f"the {HEADER} header holds a claim that is not a typ and val string pair")
        claims.append((claim["typ"], claim["val"]))
    return claims


def _name(claims: list[tuple[str, str]], name_type: str, object_id: str) -> str:
    by_type: dict[str, str] = {}
    for typ, value in claims:
        by_type.setdefault(typ, value)
    preference = (*NAME_CLAIMS[:6], name_type, *NAME_CLAIMS[6:])
    raw = next((by_type[typ] for typ in preference if by_type.get(typ, "").strip()), object_id)
    if _UNPRINTABLE.search(raw):  # checked before trimming: a trailing newline is a forgery too
        raise NotSignedIn("the signed-in principal's name holds control characters")
    if len(raw) > MAX_NAME_CHARS:
        raise NotSignedIn(f"the signed-in principal's name is longer than {MAX_NAME_CHARS} characters")
    return raw.strip()
