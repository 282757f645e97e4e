"""The Celery application: Redis when ``REDIS_URL`` is set, else the embedded SQLite broker.

Reliability settings from the start: a task is acknowledged only after it ran (``acks_late``), a
task whose worker process died is redelivered (``task_reject_on_worker_lost``), a worker holds one
message at a time (prefetch 1), and the visibility timeout outlasts the longest task's hard limit.
Task arguments are ids only; task names are stable dotted names.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_init, worker_process_init

import worker.broker  # noqa: F401  (registers the dropsync-sqlite transport alias)
from worker.beat import BEAT_SCHEDULE
from worker.observability.celery_hooks import install_observability
from worker.runtime import QUEUE
from worker.settings import Settings, get_settings
from worker.wiring import wire

#: Modules whose tasks the worker registers. A feature adds its ``tasks`` module here.
TASK_MODULES = [
    "worker.mirror.tasks",
    "worker.system.tasks",
    "worker.supplier.tasks",
    "worker.deadlines.tasks",
    "worker.cancellation.tasks",
    "worker.chargebacks.tasks",
    "worker.returns.tasks",
    "worker.crosscheck.tasks",
    "worker.notify.tasks",
    "worker.policy.startup",  # no tasks: refuses to start with a bad policy file
    "worker.secrets_startup",  # no tasks: refuses to start when the key cannot open stored credentials
]


def celery_config(settings: Settings) -> dict[str, Any]:
    # Settings guarantee visibility > hard time limit: a running task is never handed out twice.
    transport_options: dict[str, Any] = {"visibility_timeout": settings.task_visibility_timeout_seconds}
    if settings.uses_embedded_broker:
        transport_options["polling_interval"] = 0.05
    else:
        # A killed worker's unacked messages come back once older than the visibility timeout; scan for
        # them every 5 s (kombu's default is every ~100 s: interval 10 x throttle 10).
        transport_options.update(unacked_restore_interval=5, unacked_restore_throttle=1)
        if settings.redis_key_prefix:
            # Several deployments (or test runs) can share one Redis without taking each other's tasks.
            transport_options["global_keyprefix"] = settings.redis_key_prefix
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": settings.task_time_limit_seconds,
        "task_soft_time_limit": max(settings.task_time_limit_seconds * 9 // 10, 1),
        "task_default_queue": QUEUE,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": settings.task_events,  # Flower's task view (Redis)
        "task_send_sent_event": settings.task_events,
        "beat_schedule": BEAT_SCHEDULE,
        "timezone": "UTC",
        "imports": TASK_MODULES,
    }


def create_app(settings: Settings | None = None) -> Celery:
    app = Celery("dropsync")
    app.conf.update(celery_config(settings or get_settings()))
    return app


app = create_app()


def reconfigure(settings: Settings | None = None) -> None:
    """Point the already-created ``app`` at the current settings' broker (a process that changes its
    environment after import: ``dropsync up``/``demo`` and the tests that run a stack in-process). The
    connection and producer pools are dropped, so the next publish opens a connection to the new broker."""
    app.conf.update(celery_config(settings or get_settings()))
    # What Celery's own after-fork reset does (``Celery._after_fork``), without sending its signal; the
    # pools are private attributes the stubs do not declare.
    pool = getattr(app, "_pool", None)
    if pool is not None:
        pool.force_close_all()
    setattr(app, "_pool", None)  # noqa: B010
    setattr(app.amqp, "_producer_pool", None)  # noqa: B010


# Before any task module is imported: metrics need multiprocess mode set up first in a worker.
install_observability(app)


@worker_process_init.connect
def _fresh_engine_after_fork(**_: Any) -> None:
    # A forked pool process must not reuse the parent's database sockets.
    from worker.db import reset_engine_cache

    reset_engine_cache()


@worker_init.connect
@beat_init.connect
def _wire_reactions(**_: Any) -> None:
    # The worker's entry point: the same reactions as the CLI and the benches (worker.wiring).
    wire()
