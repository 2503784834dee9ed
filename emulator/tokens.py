"""Bearer tokens: making unsigned JWTs, reading their claims, and the twin's managed identity.

The twin never verifies signatures: it is test equipment, and the product must not depend on
token internals anyway. It reads claims only to attribute writes (Event Grid events carry the
writer's claims) and to refuse tokens whose ``exp`` has passed, as ARM does.

Tokens made here are "unsecured JWTs" (RFC 7519 section 6): header ``{"alg": "none"}`` and an
empty signature, so ``header.payload.`` -- still three dot-separated base64url parts.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_LIFETIME_SECONDS = 3600


def make_token(claims: Mapping[str, Any], *, lifetime: int = DEFAULT_LIFETIME_SECONDS) -> str:
    """An unsigned JWT carrying ``claims``; adds ``iat``/``nbf``/``exp`` when not given.

    Use it to act as someone else against the twin::

        token = make_token({"upn": "nightly-automation@contoso.com", "oid": "7f0c..."})
    """
    now = int(time.time())
    payload = {"iat": now, "nbf": now, "exp": now + lifetime, **claims}
    header = {"typ": "JWT", "alg": "none"}
    return f"{_encode(header)}.{_encode(payload)}."


def read_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT (three base64url parts), unverified; ``None`` for any other token."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    try:
        header = json.loads(_decode(parts[0]))
        payload = json.loads(_decode(parts[1]))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return payload


def is_expired(claims: Mapping[str, Any], now: float | None = None) -> bool:
    expires = claims.get("exp")
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        return False
    return expires < (time.time() if now is None else now)


def _encode(document: Mapping[str, Any]) -> str:
    raw = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass(frozen=True)
class Identity:
    """The managed identity the twin's token endpoint hands out tokens for.

    Defaults are fixed values so a product configured with "our own identity" recognises itself
    from run to run.
    """

    client_id: str = "5b3c0d52-6c2f-4a9e-9d0e-4f1a7f00c0de"
    object_id: str = "9e2a6d0f-3c8b-4f55-8a7e-1d4b2c00f00d"
    tenant_id: str = "3f1e4d2c-0b5a-4c69-8d7e-6a5b4c3d2e1f"
    name: str = "foundry-guard"
    # the identity's Azure resource (xms_mirid claim): the function app it is assigned to
    resource_id: str = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/foundry-guard"
        "/providers/Microsoft.Web/sites/foundry-guard"
    )

    def claims(
        self, audience: str, *, now: int | None = None, lifetime: int = DEFAULT_LIFETIME_SECONDS
    ) -> dict[str, Any]:
        """The claims Entra ID puts in an app-only token for a managed identity (v1 token shape)."""
        issued = int(time.time()) if now is None else now
        issuer = f"https://sts.windows.net/{self.tenant_id}/"
        return {
            "aud": audience,
            "iss": issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime,
            "aio": uuid.uuid4().hex,
            "appid": self.client_id,
            "appidacr": "2",
            "idp": issuer,
            "idtyp": "app",
            "oid": self.object_id,
            "rh": uuid.uuid4().hex,
            "sub": self.object_id,
            "tid": self.tenant_id,
            "uti": uuid.uuid4().hex[:22],
            "ver": "1.0",
            "xms_mirid": self.resource_id,
        }

    def token(self, audience: str, lifetime: int = DEFAULT_LIFETIME_SECONDS) -> tuple[str, int]:
        claims = self.claims(audience, lifetime=lifetime)
        return make_token(claims), int(claims["exp"])

    @classmethod
    def from_json(cls, document: Mapping[str, Any], tenant_id: str | None) -> Identity:
        known = {"clientId": "client_id", "objectId": "object_id", "name": "name", "resourceId": "resource_id"}
        unknown = sorted(set(document) - set(known) - {"tenantId"})
        if unknown:
            raise ValueError(f"identity: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = {field: str(document[key]) for key, field in known.items() if key in document}
        tenant = document.get("tenantId") or tenant_id
        if tenant:
            values["tenant_id"] = str(tenant)
        return cls(**values)
