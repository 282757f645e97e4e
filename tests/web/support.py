"""``dropsync web`` as a real process, for tests about what a process does (memory, sockets, logs)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
OPS_TOKEN = "ops-token-for-tests-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def metrics(self) -> str:
        response = httpx.get(f"{self.url}/metrics", headers={"Authorization": f"Bearer {OPS_TOKEN}"}, timeout=10)
        assert response.status_code == 200, response.text
        return response.text

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


def web_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "DROPSYNC_"))}
    return env | {
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "DROPSYNC_EMBEDDED_BROKER_PATH": str(tmp_path / "broker.sqlite3"),
        "DROPSYNC_LOG_FORMAT": "json",
        "DROPSYNC_OPS_TOKEN": OPS_TOKEN,
        "PYTHONPATH": str(ROOT),
        **extra,
    }


@contextlib.contextmanager
def running_web(env: dict[str, str], tmp_path: Path) -> Iterator[WebProcess]:
    port = free_port()
    log = tmp_path / f"web-{port}.log"
    argv = [sys.executable, "-m", "worker.cli.main", "web", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    web = WebProcess(process, port, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{web.url}/healthz", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dropsync web did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield web
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(25)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
