"""``dropsync worker|beat|up|demo``: run the service."""

from __future__ import annotations

import datetime as dt
import os
import time

import typer

from models.types import utcnow
from worker import migrations
from worker.cli.common import console, settings, unit_of_work
from worker.runtime import ManagedProcess, beat_argv, stop_all, worker_argv
from worker.system.service import last_heartbeat


def worker(
    concurrency: int = typer.Option(2, "--concurrency", "-c", min=1, help="Pool processes."),
    pool: str = typer.Option("prefork", "--pool", help="prefork | threads | solo"),
) -> None:
    """Run the Celery worker (the Procfile's `worker`).

    Example: dropsync worker --concurrency 4
    """
    os.execv(worker_argv()[0], worker_argv(concurrency, pool))


def beat() -> None:
    """Run Celery beat, the periodic scheduler (the Procfile's `beat`). Run exactly one."""
    os.execv(beat_argv()[0], beat_argv())


def _wait_for_heartbeat(since: dt.datetime, timeout: float) -> dt.datetime | None:
    from worker.system.tasks import heartbeat

    heartbeat.delay()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with unit_of_work() as session:
            seen = last_heartbeat(session, "worker")
        if seen is not None and seen >= since:
            return seen
        time.sleep(0.2)
    return None


def _start_stack() -> list[ManagedProcess]:
    migrations.upgrade(settings().sqlalchemy_url)
    return [
        ManagedProcess("worker", worker_argv(concurrency=2)).start(),
        ManagedProcess("beat", beat_argv()).start(),
    ]


def up() -> None:
    """Run the worker and beat together until Ctrl-C (embedded broker and SQLite by default)."""
    processes = _start_stack()
    try:
        seen = _wait_for_heartbeat(utcnow(), timeout=60)
        console.print(f"worker and beat up (broker: {_broker_label()}; heartbeat {seen})")
        while all(p.alive for p in processes):
            time.sleep(1)
        console.print("[red]a process exited[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        stop_all(processes)


def demo() -> None:
    """Start the stack, prove a task travels broker → worker → ledger, then stop and summarise."""
    started = utcnow()
    processes = _start_stack()
    try:
        seen = _wait_for_heartbeat(started, timeout=90)
    finally:
        stop_all(processes)
    if seen is None:
        console.print("[red]the worker did not process the heartbeat within 90 s[/red]")
        raise typer.Exit(1)
    console.print(f"database: {settings().sqlalchemy_url.split('@')[-1]}")
    console.print(f"broker:   {_broker_label()}")
    console.print(f"worker and beat started; heartbeat task consumed and recorded at {seen:%H:%M:%S}")


def _broker_label() -> str:
    s = settings()
    return "embedded (SQLite file)" if s.uses_embedded_broker else "Redis"
