"""A real prefork worker: counters from every pool child are merged on the worker's /metrics endpoint,
survive a child being SIGKILLed, and the multiprocess directory is private, cleaned and removed."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from worker.runtime import ManagedProcess, worker_argv

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(database_url: str, tmp_path: Path, port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "DROPSYNC_EMBEDDED_BROKER_PATH": str(tmp_path / "broker.sqlite3"),
        "DROPSYNC_WORKER_METRICS_PORT": str(port),
        "DROPSYNC_WORKER_METRICS_HOST": "127.0.0.1",
        "DROPSYNC_LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    }


def _publish(env: dict[str, str], count: int) -> None:
    code = f"from worker.system.tasks import heartbeat\nfor _ in range({count}): heartbeat.delay()"
    subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, check=True, timeout=60)


def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


def _tasks_done(port: int) -> float:
    text = _scrape(port) or ""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "dropsync_tasks_total" and sample.labels == {
                "task": "system.heartbeat",
                "outcome": "success",
            }:
                return sample.value
    return 0.0


def _wait(predicate: Callable[[], bool], what: str, log: Path, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log.exists() else ""
    pytest.fail(f"timed out waiting for {what}; last scrape:\n{_scrape_tasks()}\nworker log:\n{tail}")


def _multiproc_dir(log: Path) -> Path:
    match = re.search(r'"multiproc_dir": "([^"]+)"', log.read_text())
    assert match, "the worker logs where its metric files are"
    return Path(match.group(1))


def test_worker_endpoint_merges_every_child_including_retired_ones(database_url: str, tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "worker.log"
    env = _env(database_url, tmp_path, port)
    _LAST_PORT.append(port)
    # Each child retires after 2 tasks: 8 tasks run in at least 4 processes, most of them gone by the end.
    argv = [*worker_argv(concurrency=2), "--max-tasks-per-child", "2"]
    worker = ManagedProcess("worker", argv, env=env, log_path=log).start()
    try:
        _wait(lambda: _scrape(port) is not None, "the worker metrics endpoint", log)
        path = _multiproc_dir(log)
        assert path.name.startswith(f"dropsync-metrics-{worker.process.pid}-")  # type: ignore[union-attr]
        # One heartbeat first: it creates the heartbeat row (two children inserting it at once can race).
        _publish(env, 1)
        _wait(lambda: _tasks_done(port) >= 1, "the first heartbeat counted", log)
        _publish(env, 7)
        _wait(lambda: _tasks_done(port) >= 8, "eight heartbeats counted", log)
        assert _tasks_done(port) == 8
        writers = {int(f.stem.rsplit("_", 1)[1]) for f in path.glob("counter_*.db")}
        assert len(writers - {worker.process.pid}) >= 4, "children of several generations wrote counters"  # type: ignore[union-attr]
        text = _scrape(port) or ""
        assert 'dropsync_task_seconds_count{task="system.heartbeat"} 8.0' in text
        assert "dropsync_intents" not in text, "ledger gauges are served by the web process only"
    finally:
        worker.stop()
    assert not path.exists(), "the private metrics directory is removed when the worker stops"
    assert '"task_name": "system.heartbeat"' in log.read_text(), "task log lines carry the task context"


def test_a_configured_directory_is_emptied_at_start(database_url: str, tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "worker.log"
    configured = tmp_path / "metrics"
    configured.mkdir()
    (configured / "counter_999999.db").write_bytes(b"stale from a previous run")
    env = {**_env(database_url, tmp_path, port), "PROMETHEUS_MULTIPROC_DIR": str(configured)}
    _LAST_PORT.append(port)
    worker = ManagedProcess("worker", worker_argv(concurrency=1), env=env, log_path=log).start()
    try:
        _wait(lambda: _scrape(port) is not None, "the worker metrics endpoint", log)
        assert not (configured / "counter_999999.db").exists()
        _publish(env, 2)
        _wait(lambda: _tasks_done(port) >= 2, "two heartbeats counted", log)
        assert _tasks_done(port) == 2
    finally:
        worker.stop()
    assert configured.is_dir(), "a directory the operator configured is emptied, never deleted"


_LAST_PORT: list[int] = []


def _scrape_tasks() -> str:
    return "\n".join(line for line in (_scrape(_LAST_PORT[-1]) or "").splitlines() if "dropsync_task" in line)
