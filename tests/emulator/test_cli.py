"""``python -m emulator``: serve with a ready file, stop on SIGTERM, mint tokens, refuse bad seeds."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from emulator import make_token
from emulator.tokens import read_claims
from emulator.twin import PATIENCE_SECONDS

from .seeds import STORAGE

ROOT = Path(__file__).parents[2]


def _run(*arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "emulator", *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float = PATIENCE_SECONDS) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else "the twin exited"
        assert time.monotonic() < deadline, "no ready file"
        time.sleep(0.02)
    ready: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))  # written atomically: never partial
    return ready


def _request(ready: dict[str, object], method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    arm = str(ready["arm"])
    context = ssl.create_default_context(cafile=str(ready["ca"]))
    connection = http.client.HTTPSConnection(arm.removeprefix("https://"), context=context, timeout=PATIENCE_SECONDS)
    headers = {"Authorization": f"Bearer {make_token({'upn': 'cli@contoso.com'})}", "Content-Type": "application/json"}
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_serve_writes_the_ready_file_serves_the_seed_and_stops_on_sigterm(seed_dir: Path, tmp_path: Path) -> None:
    ready_file = tmp_path / "state" / "twin.json"
    port = _free_port()
    sink = f"https://127.0.0.1:{port}/_twin/sinks/cli"
    process = _run(
        "serve", "--seed", str(seed_dir), "--port", str(port), "--ready-file", str(ready_file), "--subscriber", sink
    )
    try:
        ready = _wait_for(ready_file, process)
        assert ready["arm"] == f"https://127.0.0.1:{port}"
        assert ready["pid"] == process.pid
        assert Path(str(ready["ca"])).is_absolute() and Path(str(ready["ca"])).is_file()
        assert ready["tokenEndpoint"] == f"https://127.0.0.1:{port}/msi/token"
        assert isinstance(ready["identityHeader"], str) and ready["identityHeader"]
        assert process.stdout is not None and json.loads(process.stdout.readline()) == ready

        status, body = _request(ready, "GET", f"{STORAGE}?api-version=2024-01-01")
        assert status == 200 and json.loads(body)["id"] == STORAGE
        status, _ = _request(ready, "PATCH", f"{STORAGE}?api-version=2024-01-01", b'{"tags":{"by":"cli"}}')
        assert status == 200
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not json.loads(_request(ready, "GET", "/_twin/sinks/cli")[1]) and time.monotonic() < deadline:
            time.sleep(0.02)
        (delivered,) = json.loads(_request(ready, "GET", "/_twin/sinks/cli")[1])
        assert delivered["json"][0]["subject"] == STORAGE
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PATIENCE_SECONDS) == 0
    assert not ready_file.exists()
    assert not Path(str(ready["ca"])).exists()


def test_serve_refuses_a_seed_that_is_not_resources(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"name": "no id"}', encoding="utf-8")
    process = _run("serve", "--seed", str(tmp_path))
    _, stderr = process.communicate(timeout=PATIENCE_SECONDS)
    assert process.returncode == 2
    assert stderr.startswith("error: ") and "broken.json" in stderr and len(stderr.strip().splitlines()) == 1


def test_token_prints_an_unsigned_jwt_with_the_claims() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "emulator", "token", '{"upn": "nightly-automation@contoso.com"}'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    claims = read_claims(completed.stdout.strip())
    assert claims is not None and claims["upn"] == "nightly-automation@contoso.com"
    assert claims["exp"] > time.time()


def test_serve_refuses_a_port_in_use_with_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = _run("serve", "--port", str(taken.getsockname()[1]))
        _, stderr = process.communicate(timeout=PATIENCE_SECONDS)
    assert process.returncode == 2 and stderr.startswith("error: ")
