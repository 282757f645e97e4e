"""Celery signal hooks: logging set up our way, task ids on every line, task metrics, worker endpoint.

:func:`install_observability` is called once by ``worker.celery_app`` right after the app is created. It
first prepares Prometheus multiprocess mode when this process is a Celery worker (that must precede the
first metric; task modules, which create metrics, are imported later by the worker), then connects:

* ``setup_logging``: Celery leaves the root logger alone and ours is configured instead;
* ``task_prerun`` / ``task_postrun``: bind ``task_id``, ``task_name`` and the call's id arguments
  (``shop_id``, ``order_id``, ``intent_id``… by parameter name; cleared after, so nothing leaks
  into the next task run by the same child); count the task by outcome and time it; ``task_failure``
  adds the outcomes only the main process sees (``time_limit``, ``worker_lost``);
* ``worker_init`` / ``worker_shutdown`` (main process): start and stop the metrics endpoint;
* ``worker_process_shutdown`` (pool child): ``mark_process_dead`` for that child.

Metrics are imported inside the handlers, never at module import, for the reason above.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from celery import Celery, signals

from worker.observability import multiproc
from worker.observability.access import OpsGuard
from worker.observability.logging import bind_context, clear_context, configure_logging
from worker.settings import get_settings

_started: dict[str, float] = {}


def install_observability(app: Celery) -> None:
    multiproc.prepare_worker_environment()
    signals.setup_logging.connect(_setup_logging, weak=False)
    signals.task_prerun.connect(_task_prerun, weak=False)
    signals.task_postrun.connect(_task_postrun, weak=False)
    signals.task_failure.connect(_task_failure, weak=False)
    signals.worker_init.connect(_worker_init, weak=False)
    signals.worker_shutdown.connect(_worker_shutdown, weak=False)
    signals.worker_process_shutdown.connect(_worker_process_shutdown, weak=False)


def _setup_logging(**_: Any) -> None:
    configure_logging(get_settings())


#: Task parameters whose values go on every log line of the run (tasks take ids only, named for what they are).
CONTEXT_PARAMETERS = frozenset(
    {"shop_id", "order_id", "intent_id", "supplier_order_id", "backfill_id", "cancellation_request_id"}
)


def task_context_ids(task: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """The id arguments of this task call, by parameter name (``poll_one(42)`` → ``supplier_order_id=42``)."""
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError, AttributeError):
        return {}  # a malformed call fails in the task itself, where it is reported properly
    return {name: value for name, value in bound.arguments.items() if name in CONTEXT_PARAMETERS}


def _task_prerun(task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    clear_context()
    bind_context(task_id=task_id, task_name=getattr(task, "name", None), **task_context_ids(task, args, kwargs))
    if task_id:
        _started[task_id] = time.perf_counter()


def _task_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    from worker.observability import metrics

    name = getattr(task, "name", None) or "unknown"
    started = _started.pop(task_id, None) if task_id else None
    metrics.TASKS.labels(task=name, outcome=(state or "unknown").lower()).inc()
    if started is not None:
        metrics.TASK_SECONDS.labels(task=name).observe(time.perf_counter() - started)
    clear_context()


def _task_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    """Count the failures ``task_postrun`` never sees: the main process reports a child killed by the hard
    time limit or lost mid-task (ordinary exceptions are counted by postrun in the child, not here)."""
    outcome = _PARENT_SIDE_FAILURES.get(type(exception).__name__)
    if outcome is not None:
        from worker.observability import metrics

        metrics.TASKS.labels(task=getattr(sender, "name", None) or "unknown", outcome=outcome).inc()


_PARENT_SIDE_FAILURES = {"TimeLimitExceeded": "time_limit", "WorkerLostError": "worker_lost"}


def _worker_init(**_: Any) -> None:
    settings = get_settings()
    configure_logging(settings)  # Celery sets logging up after this signal; our lines need it now
    if settings.worker_metrics_port is not None:
        guard = OpsGuard(settings)
        multiproc.start_metrics_server(settings.worker_metrics_host, settings.worker_metrics_port, guard)


def _worker_shutdown(**_: Any) -> None:
    multiproc.stop_metrics_server()
    multiproc.release_worker_environment()


def _worker_process_shutdown(pid: int | None = None, **_: Any) -> None:
    if pid is not None:
        multiproc.mark_child_dead(pid)
