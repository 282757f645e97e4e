"""Shared bench plumbing: a private PostgreSQL database, a shop row, child processes, wrk parsing."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
DROPSYNC = str(Path(sys.executable).with_name("dropsync"))  # the installed command, as users run it


def production_wiring() -> None:
    """The reactions the worker, the CLI and the web app run (``worker.wiring``): a bench measures them too."""
    from worker.wiring import wire

    wire()


@contextlib.contextmanager
def bench_database(prefix: str = "dropsync_bench", *, sqlite: bool = False) -> Iterator[str]:
    """A fresh, migrated database (PostgreSQL, or a SQLite file), dropped afterwards; DATABASE_URL points at it.

    Give each script its own ``prefix``: a run must never drop another script's database.
    """
    from worker import migrations
    from worker.db import reset_engine_cache
    from worker.settings import get_settings

    production_wiring()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = None
    if sqlite:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='dropsync-bench-')}/ledger.sqlite3"
    else:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    reset_engine_cache()
    migrations.upgrade(url)
    try:
        yield url
    finally:
        reset_engine_cache()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def create_shop(domain: str, secret: str, token: str = "shpat_bench", api_url: str | None = None) -> int:
    from models import Shop
    from worker.db import session_scope

    with session_scope() as session:
        shop = Shop(domain=domain, client_secret=secret, access_token=token, api_url=api_url)
        session.add(shop)
        session.flush()
        return shop.id


def machine_speed() -> str:
    """One line on how fast this machine runs plain Python now (the same loop every session): machines of
    the same kind differed 2x between sessions, so absolute figures are compared with this beside them."""
    import timeit

    best = min(timeit.repeat("sum(range(1_000_000))", number=5, repeat=5)) / 5
    return f"machine: sum(range(10**6)) in {best * 1000:.1f} ms (best of 5; lower is faster)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port}")


def start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def python() -> str:
    return sys.executable


def peak_rss_mb(pid: int) -> float:
    """Peak resident set (VmHWM) of a running process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def broker_publisher(env: dict[str, str]) -> Callable[[str, list[Any]], None]:
    """The bench process publishes to the same broker the worker consumes (its own Celery app)."""
    from worker.celery_app import create_app
    from worker.settings import load_settings

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        app = create_app(load_settings())
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def publish(task: str, args: list[Any]) -> None:
        app.send_task(task, args=args)

    return publish


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s and latency percentiles (ms) from ``wrk --latency`` output."""
    result: dict[str, float] = {}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rps"] = float(rate.group(1)) if rate else float("nan")
    for pct in ("50", "75", "90", "99"):
        found = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if found:
            result[f"p{pct}"] = float(found.group(1)) * _UNITS[found.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return result
