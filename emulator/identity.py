"""The App Service managed identity endpoint, so a real ``ManagedIdentityCredential`` gets tokens.

azure-identity picks the App Service protocol when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``
are set (and ``IDENTITY_SERVER_THUMBPRINT`` is not); MSAL then sends
``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=...`` with ``X-IDENTITY-HEADER`` (and
optionally ``client_id`` / ``object_id`` / ``mi_res_id`` for a user-assigned identity) and reads
``access_token`` and ``expires_on`` (epoch seconds) from the JSON answer, plus ``resource`` and
``token_type`` (msal/managed_identity.py, ``_obtain_token_on_app_service``). Failures are answered
as App Service does, ``{"statusCode", "message"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .messages import Request, Response, json_response

if TYPE_CHECKING:
    from .app import TwinApp

PATH = "/msi/token"
API_VERSION = "2019-08-01"


def token(app: TwinApp, request: Request) -> Response:
    if request.method != "GET":
        return _refuse(405, f"{request.method} is not supported; use GET.")
    if request.header("x-identity-header") != app.config.identity_header:
        return _refuse(401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
    if request.query_value("api-version") != API_VERSION:
        return _refuse(400, f"api-version must be {API_VERSION}.")
    resource = request.query_value("resource")
    if not resource:
        return _refuse(400, "The resource query parameter is required.")
    identity = app.config.identity
    wanted = {
        "client_id": identity.client_id,
        "object_id": identity.object_id,
        "principal_id": identity.object_id,
        "mi_res_id": identity.resource_id,
    }
    for parameter, value in wanted.items():
        asked = request.query_value(parameter)
        if asked is not None and asked.casefold() != value.casefold():
            return _refuse(
                400,
                "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
            )
    access_token, expires_on = identity.token(resource)
    return json_response(
        200,
        {
            "access_token": access_token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        },
    )


def _refuse(status: int, message: str) -> Response:
    return json_response(status, {"statusCode": status, "message": message})
