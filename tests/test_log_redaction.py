"""Secrets stay out of the logs, whoever writes the line: the record factory ``logcontext.install()``
sets redacts every record, from urllib3, azure-core, azure-identity or Foundry Guard, before any
handler sees it."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.twin import Twin
from remediators.arm import credential
from remediators.logcontext import install, log_context
from remediators.notify import Notice, Notifier
from remediators.pipeline import State
from remediators.redaction import REDACTED, redact
from tests.test_notify import (
    ACCOUNT_KEY,
    JWT,
    SAS_SIGNATURE,
    SINK,
    SINK_PATH,
    STORAGE,
    TOPIC,
    TOPIC_PATH,
    WEBHOOK_SIGNATURE,
    pipeline,
)
from tests.test_notify import twin as twin  # the fixture: the twin with the managed resources

ROOT = Path(__file__).parent.parent
FUNCTION_KEY = "FunctionKey0aBcDeFgHiJkLmNoPqRsTuV=="
CONNECTION_STRING = (
    f"DefaultEndpointsProtocol=https;AccountName=stguard;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
)


@pytest.fixture
def every_record(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    install()
    caplog.set_level(logging.DEBUG)  # the root logger: every library's DEBUG lines are captured
    yield caplog


def said(records: list[logging.LogRecord]) -> list[str]:
    """Everything a handler could write of each record: its message, and the traceback text."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return [formatter.format(record) for record in records]


def test_with_every_logger_at_debug_no_secret_reaches_a_record(
    twin: Twin, every_record: pytest.LogCaptureFixture
) -> None:
    """A real fix through the azure-mgmt clients (azure-core, azure-identity), a real CloudEvent
    publish and a real Teams post over HTTPS to the twin's sink with a signed webhook URL, a webhook
    that does not answer, and an ARM error quoting a connection string, a SAS and a bearer token."""
    broken = twin.resource(STORAGE["id"]) or {}
    twin.set_resource({**broken, "properties": {**broken["properties"], "allowSharedKeyAccess": False}})
    twin.add_fault(
        {
            "kind": "error",
            "status": 500,
            "method": "PATCH",
            "resourceId": STORAGE["id"],
            "message": (
                f"backend failed: {CONNECTION_STRING}; SAS https://st1.blob.core.windows.net/c?sv=2022-11-02&sp=r"
                f"&sig={SAS_SIGNATURE} Bearer {JWT}"
            ),
            "times": 1,
        }
    )
    with log_context(resource_id=STORAGE["id"]):
        failed = pipeline(twin, retry_total=0).remediate(STORAGE["id"])
        fixed = pipeline(twin).remediate(STORAGE["id"])
    assert (failed.state, fixed.state) == (State.FAILED, State.VERIFIED)
    webhook = f"{twin.sink_url(SINK)}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sig={WEBHOOK_SIGNATURE}"
    guard = Notifier(
        eventgrid_endpoint=twin.topic_endpoint(TOPIC),
        credential=credential(None),
        teams_webhook_url=webhook,
        connection_verify=twin.ca_path,
        backoff_seconds=0.0,
    )
    deliveries = guard.send(Notice("rem-0001", fixed)) + guard.send(Notice("rem-0002", failed))
    assert all(delivery.ok for delivery in deliveries)
    unreachable = Notifier(
        eventgrid_endpoint=None,
        credential=None,
        teams_webhook_url=f"https://127.0.0.1:1/workflows/x/triggers/manual/paths/invoke?sig={WEBHOOK_SIGNATURE}",
        connection_verify=twin.ca_path,
        attempts=1,
    ).send(Notice("rem-0003", fixed))
    assert [d.ok for d in unreachable] == [False]
    token = credential(None).get_token("https://management.azure.com/.default").token
    ours = logging.getLogger("foundry_guard.test")
    ours.debug("connecting with %s", CONNECTION_STRING)
    ours.info("action group calls https://func-guard.azurewebsites.net/api/alerts?code=%s", FUNCTION_KEY)

    # The secrets did go over the wire and through the libraries: the sink got the signature, ARM the token.
    assert {r.query.get("sig") for r in twin.requests("POST", SINK_PATH)} == {WEBHOOK_SIGNATURE}
    assert twin.requests("POST", TOPIC_PATH)
    records = every_record.records
    assert {r.name.split(".")[0] for r in records} >= {"urllib3", "azure", "foundry_guard"}
    lines = said(records)
    for secret in (WEBHOOK_SIGNATURE, SAS_SIGNATURE, ACCOUNT_KEY, JWT, token, FUNCTION_KEY, twin.identity_header):
        leaks = [line for line in lines if secret in line]
        assert leaks == [], f"{secret[:12]}... logged: {leaks[:2]}"
    assert any(f"sig={REDACTED}" in line for line in lines if line.startswith("urllib3"))
    assert any(f"AccountKey={REDACTED}" in line for line in lines if line.startswith("foundry_guard.test"))


def test_a_record_is_formatted_once_redacted_and_keeps_no_arguments(every_record: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("foundry_guard.test")
    with log_context(event_id="e1"):
        log.warning(
            "published to %s with %r", f"https://t.eventgrid.azure.net/api/events?code={FUNCTION_KEY}", {"x": 1}
        )
    [record] = every_record.records
    assert record.args == ()
    assert (
        record.msg
        == record.getMessage()
        == f"published to https://t.eventgrid.azure.net/api/events?code={REDACTED} with {{'x': 1}}"
    )
    assert record.eventId == "e1"  # the context ids are still there


def test_a_traceback_is_rendered_redacted_and_the_exception_not_kept(every_record: pytest.LogCaptureFixture) -> None:
    try:
        raise ConnectionError(f"Max retries exceeded with url: /workflows/x?sp=%2Ftriggers&sig={WEBHOOK_SIGNATURE}")
    except ConnectionError:
        logging.getLogger("azure.core.pipeline").exception("transport failed")
    [record] = every_record.records
    assert record.exc_info is None
    [line] = said([record])
    assert "ConnectionError: Max retries exceeded" in line and f"sig={REDACTED}" in line
    assert WEBHOOK_SIGNATURE not in line


def test_odd_records_neither_fail_the_caller_nor_leak(every_record: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("somelibrary")
    log.debug("%s and %s", f"sig={SAS_SIGNATURE}")  # too few arguments for the format
    log.debug({"headers": {"Authorization": f"Bearer {JWT}"}})  # not a string at all
    log.debug("100%% done, %d left", 0)
    lines = said(every_record.records)
    assert not any(SAS_SIGNATURE in line or JWT in line for line in lines)
    assert lines[0].startswith("somelibrary %s and %s (arguments: ")
    assert lines[1] == "somelibrary {'headers': {'Authorization': 'Bearer [redacted]'}}"
    assert lines[2] == "somelibrary 100% done, 0 left"


@pytest.mark.parametrize(
    "entry",
    ["import function_app", "from remediators.__main__ import main; main(['roles'])"],
    ids=["function-app", "cli"],
)
def test_every_entry_point_installs_the_redaction(entry: str) -> None:
    program = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format='%(name)s %(message)s')\n"
        f"{entry}\n"
        "logging.getLogger('urllib3.connectionpool').debug('\"POST /workflows/x?sig=%s HTTP/1.1\" 202', sys.argv[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, WEBHOOK_SIGNATURE], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f"sig={REDACTED}" in done.stderr and WEBHOOK_SIGNATURE not in done.stderr


def test_the_demo_installs_the_redaction_before_anything_logs() -> None:
    """The demo's main() runs the whole story (tests/test_demo.py); here, that install() comes first."""
    import ast

    main = next(
        node
        for node in ast.parse((ROOT / "demo" / "__main__.py").read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name == "main"
    )
    first = main.body[0]
    assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Call)
    assert getattr(first.value.func, "id", None) == "install"


def test_redact_is_the_one_the_notifications_use() -> None:
    from remediators import notify

    assert notify.redact is redact and notify.REDACTED == REDACTED
