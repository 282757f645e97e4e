"""Start and stop the service's processes (worker, beat, web) as real child processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: The one queue every dropsync task goes to (``task_default_queue``) and every worker consumes.
QUEUE = "dropsync"


def worker_argv(concurrency: int = 2, pool: str = "prefork", queues: str = QUEUE, loglevel: str = "INFO") -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "--loglevel", loglevel, "--concurrency", str(concurrency), "--pool", pool, "-Q", queues,
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def beat_argv(schedule_file: str = "celerybeat-schedule") -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat",
        "--loglevel", "INFO", "--schedule", schedule_file,
    ]  # fmt: skip


@dataclass
class ManagedProcess:
    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ManagedProcess:
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 (lives with the child)
        self.process = subprocess.Popen(
            list(self.argv),
            env={**os.environ, **(self.env or {})},
            stdout=out or None,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,  # its own process group: stop() reaches pool children too
        )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group (crash tests: no chance to ack or restore anything)."""
        if self.process is not None and self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or not self.alive:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: the parent stops its pool itself
        deadline = time.monotonic() + timeout
        while self.alive and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.alive:
            self.kill()


def stop_all(processes: Sequence[ManagedProcess]) -> None:
    for proc in reversed(processes):
        proc.stop()


def web_argv(port: int, host: str = "127.0.0.1") -> list[str]:
    """``dropsync web`` as a child process (the webhook receiver, /healthz, /metrics)."""
    return [sys.executable, "-m", "worker.cli.main", "web", "--host", host, "--port", str(port)]


class StopRequested(BaseException):
    """A stop signal arrived (SIGINT, SIGTERM, SIGHUP). A BaseException, like KeyboardInterrupt, so no
    ``except Exception`` on the way up swallows it before the ``finally`` blocks that stop the children."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_on_signals(signals: Sequence[signal.Signals] = STOP_SIGNALS) -> Iterator[None]:
    """Inside this block the first stop signal raises :class:`StopRequested` in the main thread.

    Children started with ``start_new_session`` never get the terminal's or the service manager's
    signal: only their parent can stop them. Without this, SIGTERM (what systemd and platforms send)
    or SIGHUP (the terminal closed) killed the parent at once and left web, worker and beat running
    with PPID 1. Later signals are ignored while the first one's stop is in progress, so a second
    Ctrl-C cannot interrupt the cleanup half-way (each child still gets SIGKILL after its grace period).
    """
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def request_stop(signum: int, _: object) -> None:
        for other in signals:
            signal.signal(other, signal.SIG_IGN)
        raise StopRequested(signum)

    for signum in signals:
        signal.signal(signum, request_stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
