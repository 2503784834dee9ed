"""Azure Functions triggers. Triggers only: each parses its input and hands it to ``remediators``.

``POST /api/classify`` (function key): body is one ARM resource (a GET response); answers the
same JSON as ``python -m remediators classify``. ``?managed=true`` treats the resource as in a
managed resource group. Nothing is read from or written to Azure.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

from remediators import arm_json
from remediators.classify import NotAResource, classify
from remediators.settings import InvalidSettings, load_scope_rules

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("foundry_guard")


@app.function_name("classify")
@app.route(route="classify", methods=["POST"])
def classify_http(req: func.HttpRequest) -> func.HttpResponse:
    try:
        rules = load_scope_rules()
    except InvalidSettings as error:
        log.error("invalid configuration: %s", error)
        return _json({"error": f"invalid configuration: {error}"}, 500)
    try:
        resource = arm_json.loads(req.get_body())
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _json({"error": f"request body is not JSON: {error}"}, 400)
    managed = req.params.get("managed", "").casefold() in ("true", "1")
    try:
        result = classify(resource, rules, treat_as_managed=managed)
    except NotAResource as error:
        return _json({"error": str(error)}, 400)
    log.info("classified %s: guarded=%s findings=%d", result.resource_id, result.guarded, len(result.findings))
    return _json(result.to_json(), 200)


def _json(document: object, status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(document), status_code=status, mimetype="application/json")
