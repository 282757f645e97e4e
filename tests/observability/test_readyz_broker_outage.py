"""A forced broker outage makes /readyz fail (naming the broker) and recover when Redis is back."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from worker.settings import Settings
from worker.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette would rather have httpx2; httpx is what the project ships
    from starlette.testclient import TestClient

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnRedis:
    """A private redis-server on a loopback port, started and killed by the test."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [REDIS_SERVER or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir)]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(_free_port(), tmp_path)
    server.start()
    yield server
    server.kill()


def _ready(client: TestClient) -> tuple[int, dict[str, object]]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def test_readyz_fails_during_a_redis_outage_and_recovers(own_redis: OwnRedis, database_url: str) -> None:
    settings = Settings(DATABASE_URL=database_url, REDIS_URL=f"redis://127.0.0.1:{own_redis.port}/0")
    with TestClient(create_app(settings)) as client:
        status, body = _ready(client)
        assert status == 200, body

        own_redis.kill()
        status, body = _ready(client)
        assert status == 503
        assert body["failed"] == ["broker"]
        assert body["checks"]["broker"]["ok"] is False  # type: ignore[index]
        assert client.get("/healthz").status_code == 200, "liveness does not depend on the broker"

        own_redis.start()
        status, body = _ready(client)
        assert status == 200, body
