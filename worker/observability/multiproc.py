"""Prometheus multiprocess mode for the Celery worker (prefork: every pool child has its own registry).

Rules, from prometheus_client's documentation and what breaks without them:

* ``PROMETHEUS_MULTIPROC_DIR`` must be set **before the first metric is created** in the process, or the
  metrics live in plain memory and each child's counts vanish with it. :func:`prepare_worker_environment`
  runs when ``worker.celery_app`` is imported, which ``celery -A worker.celery_app worker`` does before it
  imports any task module. If prometheus_client itself was imported earlier (celery's CLI loads Flower's
  command plugin, which imports it), its value class is switched then: metrics look it up when created.
* The directory must be emptied at start: files left by a previous run would be added to this run's counters.
  When unset we create a private directory per worker (so two workers on one machine never share or wipe
  each other's files) and remove it at exit.
* A child that exits calls ``mark_process_dead`` (its live gauges go away); one killed without notice is
  caught at the next scrape (``exposition.forget_dead_processes``).
* The worker's main process serves the merged view on ``DROPSYNC_WORKER_METRICS_PORT``; pool children never
  listen.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler

import structlog

from worker.observability.access import OpsGuard, wsgi_bearer_guard

log = structlog.get_logger(__name__)

_state: dict[str, Any] = {"owner": None, "created": None, "server": None}


def is_celery_worker_command(argv: list[str] | None = None) -> bool:
    """True in ``celery … worker`` (console script or ``python -m celery``), false in beat, the CLI, tests."""
    argv = sys.argv if argv is None else argv
    if not argv:
        return False
    program = Path(argv[0])
    is_celery = program.name == "celery" or (program.name == "__main__.py" and program.parent.name == "celery")
    return is_celery and "worker" in argv[1:]


def prepare_worker_environment(argv: list[str] | None = None) -> str | None:
    """In a Celery worker, point ``PROMETHEUS_MULTIPROC_DIR`` at a clean directory; returns it (else None)."""
    if not is_celery_worker_command(argv) or os.environ.get("FORKED_BY_MULTIPROCESSING"):
        return None
    if _state["owner"] == os.getpid():
        return os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if "worker.observability.metrics" in sys.modules:
        # Too late: dropsync's metrics already exist in plain memory; children's counts would be lost.
        log.error("worker.observability.metrics was imported before the worker set up multiprocess mode")
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        _empty(Path(path))
    else:
        path = tempfile.mkdtemp(prefix=f"dropsync-metrics-{os.getpid()}-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        _state["created"] = path
        atexit.register(_remove_created_dir, os.getpid())
    _switch_value_class()
    _state["owner"] = os.getpid()
    return path


def _switch_value_class() -> None:
    """prometheus_client picks its value class when first imported, and celery's CLI may import it first
    (Flower's command plugin does). Metrics look the class up when created, so switching it here makes
    every dropsync metric, all created later, multiprocess-aware."""
    if "prometheus_client.values" in sys.modules:
        from prometheus_client import values

        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def _empty(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def _remove_created_dir(owner: int) -> None:
    # Pool children inherit atexit handlers through fork: only the worker that created the dir removes it.
    if os.getpid() == owner and _state["created"]:
        shutil.rmtree(_state["created"], ignore_errors=True)
        _state["created"] = None


def release_worker_environment() -> None:
    """At worker shutdown (main process): remove the directory we created; a configured one is left."""
    if _state["owner"] is not None:
        _remove_created_dir(_state["owner"])


def mark_child_dead(pid: int) -> None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def start_metrics_server(host: str, port: int, guard: OpsGuard | None = None) -> int | None:
    """Serve the merged worker metrics over HTTP from this (main) process; returns the bound port.

    ``guard`` (the settings' ``DROPSYNC_OPS_TOKEN`` rule) makes a scrape without the bearer token a 401.
    """
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path or _state["server"] is not None:
        return None
    from wsgiref.simple_server import WSGIServer, make_server

    from prometheus_client.exposition import ThreadingWSGIServer, make_wsgi_app

    from worker.observability.exposition import worker_view

    app = make_wsgi_app(worker_view(path))
    if guard is not None:
        app = wsgi_bearer_guard(app, guard)
    try:
        server: WSGIServer = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    except OSError as exc:
        # A busy port must not keep the worker from moving money: say so and run without the endpoint.
        log.error("worker metrics endpoint not started", host=host, port=port, error=str(exc))
        return None
    thread = threading.Thread(target=server.serve_forever, name="dropsync-metrics", daemon=True)
    thread.start()
    _state["server"] = server
    bound = int(server.server_address[1])
    log.info("worker metrics endpoint listening", url=f"http://{host}:{bound}/metrics", multiproc_dir=path)
    return bound


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every 15 s would drown the worker's log; failures show in Prometheus itself."""


def stop_metrics_server() -> None:
    server = _state["server"]
    if server is not None:
        server.shutdown()
        server.server_close()
        _state["server"] = None
