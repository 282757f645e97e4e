"""A real Celery worker runs tasks on both brokers, and a task survives its worker being SIGKILLed."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from worker.runtime import QUEUE, ManagedProcess

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _worker(env: dict[str, str], log: Path) -> ManagedProcess:
    argv = [
        sys.executable, "-m", "celery", "-A", "tests.support.crash_app", "worker", "--loglevel", "INFO",
        "--concurrency", "1", "-Q", QUEUE, "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    return ManagedProcess("worker", argv, env={**env, "PYTHONPATH": str(ROOT)}, log_path=log).start()


def _send(env: dict[str, str], marker: Path, seconds: float) -> None:
    """Publish from a separate process configured by the same environment, as a web process would."""
    code = f"from tests.support.crash_app import record_and_sleep;record_and_sleep.delay({str(marker)!r}, {seconds})"
    import subprocess

    subprocess.run([sys.executable, "-c", code], env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, check=True)


def _wait(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:] if log.exists() else ''}")


def _lines(marker: Path) -> list[str]:
    return marker.read_text().splitlines() if marker.exists() else []


@pytest.fixture(params=["embedded", "redis"])
def broker_env(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Iterator[dict[str, str]]:
    env = {
        "DATABASE_URL": database_url,
        "DROPSYNC_TASK_TIME_LIMIT": "6",
        "DROPSYNC_TASK_VISIBILITY_TIMEOUT": "8",
    }
    if request.param == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        env["DROPSYNC_REDIS_KEY_PREFIX"] = f"{os.environ['DROPSYNC_REDIS_KEY_PREFIX']}{tmp_path.name}:"
    else:
        env["REDIS_URL"] = ""
        env["DROPSYNC_EMBEDDED_BROKER_PATH"] = str(tmp_path / "broker.sqlite3")
    return env


def test_worker_executes_a_task(broker_env: dict[str, str], tmp_path: Path) -> None:
    marker, log = tmp_path / "marker", tmp_path / "worker.log"
    worker = _worker(broker_env, log)
    try:
        _send(broker_env, marker, 0)
        _wait(lambda: "done" in _lines(marker), 30, "the task to run", log)
    finally:
        worker.stop()
    assert _lines(marker)[0].startswith("start")


def test_task_runs_again_after_the_worker_is_sigkilled(broker_env: dict[str, str], tmp_path: Path) -> None:
    marker, log = tmp_path / "marker", tmp_path / "worker.log"
    first = _worker(broker_env, log)
    try:
        _send(broker_env, marker, 4)
        _wait(lambda: any(line.startswith("start") for line in _lines(marker)), 30, "the task to start", log)
        first.kill()  # the whole process group: no warm shutdown, no chance to ack or restore
    finally:
        first.kill()
    assert "done" not in _lines(marker)
    second = _worker(broker_env, log)
    try:
        # Embedded: the dead claimer's message is released at once. Redis: after the visibility timeout.
        _wait(lambda: "done" in _lines(marker), 60, "the task to run again", log)
    finally:
        second.stop()
    starts = [line for line in _lines(marker) if line.startswith("start")]
    assert len(starts) == 2, _lines(marker)
    assert _lines(marker).count("done") == 1
