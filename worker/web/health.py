"""Readiness: can this deployment do its job right now? (Liveness is just "the process answers".)

``/readyz`` checks, concurrently and each within :data:`CHECK_TIMEOUT_SECONDS`:

* **database**: ``SELECT 1`` on the shared engine (its pool is reused: no connection storm per probe);
* **broker**: Redis ``PING`` when ``REDIS_URL`` is set, else the embedded broker's SQLite file opens
  read-write (or, before the first task ever, its directory is writable so it can be created);
* **migrations**: the database's Alembic revision is the code's head (a deploy whose release step did not
  run must not take traffic).

A check's error is one line, scrubbed of secrets (URLs with passwords, tokens), in the JSON body.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, text

from worker import migrations
from worker.observability.redaction import redact_text
from worker.settings import Settings

CHECK_TIMEOUT_SECONDS = 3.0


@dataclasses.dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "ms": round(self.seconds * 1000, 1)}


class Readiness:
    """The readiness checks of one web app; holds the clients it reuses between probes."""

    def __init__(self, settings: Settings, engine: Callable[[], Engine]) -> None:
        self._settings = settings
        self._engine = engine
        self._redis: redis.Redis | None = None
        self._head: str | None = None

    def check_database(self) -> str:
        with self._engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return "SELECT 1 ok"

    def check_broker(self) -> str:
        if self._settings.redis_url:
            self._redis_client().ping()
            return "redis PING ok"
        return _check_embedded_broker(Path(self._settings.embedded_broker_path).resolve())

    def check_migrations(self) -> str:
        if self._head is None:
            self._head = migrations.head_revision()  # the code's head cannot change while it runs
        current = migrations.current_revision(self._engine())
        if current != self._head:
            raise RuntimeError(f"database at revision {current or 'none'}, code expects {self._head}")
        return f"at head {self._head}"

    def _redis_client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self._settings.redis_url or "",
                socket_connect_timeout=1.0,
                socket_timeout=1.0,
                retry=Retry(NoBackoff(), 0),  # a probe reports the outage; it does not wait it out
            )
        return self._redis

    async def run(self) -> list[CheckResult]:
        checks = {"database": self.check_database, "broker": self.check_broker, "migrations": self.check_migrations}
        return list(await asyncio.gather(*(_timed(name, check) for name, check in checks.items())))

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None


async def _timed(name: str, check: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(asyncio.to_thread(check), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return CheckResult(name, False, f"timed out after {CHECK_TIMEOUT_SECONDS:g}s", time.perf_counter() - started)
    except Exception as exc:
        return CheckResult(name, False, _one_line(exc), time.perf_counter() - started)
    return CheckResult(name, True, detail, time.perf_counter() - started)


def _one_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    lines = str(cause).strip().splitlines()
    return redact_text(f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": "))


def _check_embedded_broker(path: Path) -> str:
    if not path.exists():
        if path.parent.is_dir() and os.access(path.parent, os.W_OK):
            return f"embedded broker file not created yet; {path.parent} is writable"
        raise RuntimeError(f"embedded broker directory {path.parent} is missing or not writable")
    db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=1.0)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        db.close()
    return "embedded broker file opens read-write"
