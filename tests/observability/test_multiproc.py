"""Multiprocess bookkeeping: only a Celery worker switches it on; dead children's live gauges are dropped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.observability.exposition import forget_dead_processes
from worker.observability.multiproc import is_celery_worker_command


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/celery", "-A", "worker.celery_app", "worker", "--concurrency", "2"], True),
        (["/venv/lib/python3.11/site-packages/celery/__main__.py", "-A", "worker.celery_app", "worker"], True),
        (["/venv/bin/celery", "-A", "worker.celery_app", "beat"], False),
        (["/venv/bin/dropsync", "worker"], False),
        (["/venv/bin/pytest", "tests/worker"], False),
        ([], False),
    ],
)
def test_only_the_celery_worker_command_uses_multiprocess_mode(argv: list[str], expected: bool) -> None:
    assert is_celery_worker_command(argv) is expected


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_live_gauges_of_dead_processes_are_forgotten_and_counters_kept(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    for name in (
        f"gauge_livesum_{dead}.db",
        f"gauge_liveall_{dead}.db",
        f"counter_{dead}.db",
        f"gauge_livesum_{alive}.db",
    ):
        (tmp_path / name).write_bytes(b"")
    assert forget_dead_processes(str(tmp_path)) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{dead}.db", f"gauge_livesum_{alive}.db"]


def test_multiprocess_mode_holds_even_when_prometheus_client_was_imported_first(tmp_path: Path) -> None:
    """celery's CLI imports command plugins (Flower's imports prometheus_client) before our app module."""
    code = (
        "import os, prometheus_client\n"
        "from worker.observability.multiproc import prepare_worker_environment\n"
        "path = prepare_worker_environment(['/venv/bin/celery', '-A', 'worker.celery_app', 'worker'])\n"
        "from worker.observability import metrics\n"
        "metrics.TASKS.labels(task='system.heartbeat', outcome='success').inc()\n"
        "print(sorted(os.listdir(path)))\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "counter_" in result.stdout, result.stdout + result.stderr


def test_failures_only_the_main_process_sees_are_counted_once() -> None:
    from billiard.exceptions import TimeLimitExceeded, WorkerLostError

    from worker.observability import celery_hooks, metrics

    class Task:
        name = "cancellation.advance"

    def count(outcome: str) -> float:
        return metrics.TASKS.labels(task="cancellation.advance", outcome=outcome)._value.get()

    before = {outcome: count(outcome) for outcome in ("time_limit", "worker_lost", "failure")}
    celery_hooks._task_failure(sender=Task(), exception=TimeLimitExceeded(900))
    celery_hooks._task_failure(sender=Task(), exception=WorkerLostError("signal 9"))
    celery_hooks._task_failure(sender=Task(), exception=ValueError("counted by task_postrun instead"))
    assert count("time_limit") - before["time_limit"] == 1
    assert count("worker_lost") - before["worker_lost"] == 1
    assert count("failure") == before["failure"]


def test_a_tasks_id_arguments_are_bound_by_parameter_name() -> None:
    from celery import Celery

    from worker.observability.celery_hooks import task_context_ids

    app = Celery("context-test")

    @app.task(name="test.poll_one")
    def poll_one(supplier_order_id: int, force: bool = False) -> None: ...

    @app.task(name="test.execute", bind=True)
    def execute(self: object, intent_id: int, order_id: int | None = None) -> None: ...

    assert task_context_ids(poll_one, (42,), {}) == {"supplier_order_id": 42}
    assert task_context_ids(execute, (7,), {"order_id": 3}) == {"intent_id": 7, "order_id": 3}
    assert task_context_ids(poll_one, (1, 2, 3, 4), {}) == {}, "a malformed call binds nothing and does not raise"
