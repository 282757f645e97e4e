"""`dropsync web` (the Procfile's web process) serves health, readiness and metrics over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_dropsync_web_serves_probes_and_metrics(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "DROPSYNC_EMBEDDED_BROKER_PATH": str(tmp_path / "broker.sqlite3"),
        "DROPSYNC_LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    }
    argv = [sys.executable, "-m", "worker.cli.main", "web", "--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"dropsync web did not answer; log:\n{log.read_text()}")
        status, body = _get(f"{base}/readyz")
        assert status == 200, body
        assert json.loads(body)["status"] == "ready"
        status, text = _get(f"{base}/metrics")
        assert status == 200
        assert 'dropsync_http_requests_total{method="GET",route="/healthz",status="200"}' in text
        assert "dropsync_inbox_lag_seconds 0.0" in text
    finally:
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(20)
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM (exit status -15), as it documents.
    assert exit_code in (0, -signal.SIGTERM)
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    uvicorn_events = [event["event"] for event in events if event.get("logger") == "uvicorn.error"]
    assert any("Finished server process" in event for event in uvicorn_events), log.read_text()
