"""The request log: every request, in order, with its body byte for byte."""

from __future__ import annotations

import base64
import http.client
import ssl

from emulator import Twin, make_token

from .conftest import WRITER
from .seeds import STORAGE, WORKSPACE


def test_bodies_are_recorded_exactly_as_sent(twin: Twin) -> None:
    body = '{ "properties" : {"allowSharedKeyAccess":true},  "tags": {"note": "café ✓"} }'.encode()
    twin.call("PATCH", STORAGE, body, claims=WRITER, headers={"x-ms-client-request-id": "abc"})

    (entry,) = twin.requests()
    assert entry.body == body
    assert entry.json == {"properties": {"allowSharedKeyAccess": True}, "tags": {"note": "café ✓"}}
    assert (entry.method, entry.path, entry.status) == ("PATCH", STORAGE, 200)
    assert entry.query == {"api-version": "2024-01-01"}
    assert entry.headers["x-ms-client-request-id"] == "abc"
    assert "authorization" not in entry.headers
    assert entry.caller is not None and entry.caller["upn"] == WRITER["upn"]
    (listed,) = twin.call("GET", "/_twin/requests", api_version=None).json()
    assert listed["body"] == body.decode("utf-8")
    assert listed["json"] == entry.json


def test_chunked_and_binary_bodies_survive(twin: Twin) -> None:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", twin.port, context=ssl.create_default_context(cafile=twin.ca_path)
    )
    chunks = [b'{"tags":', b'{"a":"b"}}']
    headers = {"Authorization": f"Bearer {make_token(WRITER)}", "Content-Type": "application/json"}
    connection.request(
        "PATCH", WORKSPACE + "?api-version=2024-01-01", body=iter(chunks), headers=headers, encode_chunked=True
    )
    assert connection.getresponse().status == 200
    connection.close()
    twin.call("PATCH", WORKSPACE, b"\xff\xfe not utf-8")

    chunked, binary = twin.requests()
    assert chunked.body == b"".join(chunks) and chunked.status == 200
    assert binary.status == 400
    listed = twin.call("GET", "/_twin/requests", api_version=None).json()
    assert listed[1]["body"] is None
    assert base64.b64decode(listed[1]["bodyBase64"]) == b"\xff\xfe not utf-8"


def test_order_clearing_and_admin_routes_left_out(twin: Twin) -> None:
    twin.call("GET", STORAGE)
    twin.call("GET", WORKSPACE)
    twin.call("GET", "/_twin/faults", api_version=None)
    assert [entry.path for entry in twin.requests()] == [STORAGE, WORKSPACE]
    assert [entry.seq for entry in twin.requests()] == [1, 2]
    assert twin.requests("GET", path=WORKSPACE.upper())[0].path == WORKSPACE
    assert twin.call("DELETE", "/_twin/requests", api_version=None).status == 204
    assert twin.requests() == []
