"""Test fixtures: a private database per test session (PostgreSQL by default, SQLite on request),
built by Alembic; savepoint rollback per test; a private Redis key prefix for Celery.

Choose the database with ``DROPSYNC_TEST_BACKEND=postgresql|sqlite`` (default postgresql) or give one
with ``TEST_DATABASE_URL``. Services: ``TEST_POSTGRES_ADMIN_URL`` (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and ``TEST_REDIS_URL`` (default
redis://127.0.0.1:6379/0). In CI (``CI=true``) a missing service fails the run instead of skipping.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"

_missing: dict[str, str] = {}


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]}: {str(exc).splitlines()[0]}"
    return None


def _redis_reachable() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS_URL}: {exc}"
    return None


def _backend() -> str:
    if os.environ.get("TEST_DATABASE_URL"):
        return "sqlite" if os.environ["TEST_DATABASE_URL"].startswith("sqlite") else "postgresql"
    return os.environ.get("DROPSYNC_TEST_BACKEND", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    if _backend() == "postgresql" and not os.environ.get("TEST_DATABASE_URL"):
        problem = _postgres_reachable()
        if problem:
            if IN_CI:
                pytest.exit(f"CI needs PostgreSQL: {problem}", returncode=3)
            _missing["postgres"] = problem
            os.environ["DROPSYNC_TEST_BACKEND"] = "sqlite"
    problem = _redis_reachable()
    if problem:
        if IN_CI:
            pytest.exit(f"CI needs Redis: {problem}", returncode=3)
        _missing["redis"] = problem
    # Subprocesses (workers, CLI runs) inherit these: they must find the same database and prefix.
    os.environ["DROPSYNC_REDIS_KEY_PREFIX"] = f"dropsync-test-{RUN_ID}:"
    os.environ.setdefault("DROPSYNC_ENV", "test")
    # Stored credentials are sealed with this run's key (subprocesses inherit it); never a key file.
    os.environ.setdefault("DROPSYNC_SECRET_KEY", Fernet.generate_key().decode())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres" in item.keywords and (_backend() != "postgresql" or "postgres" in _missing):
            reason = _missing.get("postgres", "this run uses SQLite (DROPSYNC_TEST_BACKEND=sqlite)")
            item.add_marker(pytest.mark.skip(reason=reason))
        if "redis" in item.keywords and "redis" in _missing:
            item.add_marker(pytest.mark.skip(reason=_missing["redis"]))


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"dropsync test database backend: {_backend()}; redis: {REDIS_URL}"]
    lines += [f"NOT AVAILABLE: {problem} (tests needing it are skipped)" for problem in _missing.values()]
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for service, problem in _missing.items():
        terminalreporter.write_line(f"SKIPPED {service} tests: {problem}", yellow=True)


@pytest.fixture(autouse=True)
def _no_logging_left_behind() -> Iterator[None]:
    """A test that sets up dropsync's logging (a CLI run in process, the web app) binds its handler to the
    test's captured stderr, which pytest closes when the test ends: a thread of a later test logging
    through it (an SMTP server's) printed "--- Logging error ---" into the run. Our handlers a test added
    are taken off the root logger after it (pytest's own are left to pytest)."""
    from worker.observability.logging import is_dropsync_handler

    root = logging.getLogger()
    before = set(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in before and is_dropsync_handler(handler):
            root.removeHandler(handler)


@pytest.fixture(scope="session", autouse=True)
def _wired() -> None:
    """The reactions every entry point wires (worker.wiring): in-process tests run them too."""
    from worker.wiring import wire

    wire()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A private, migrated database for this test session; DATABASE_URL points at it."""
    from worker import migrations
    from worker.db import reset_engine_cache
    from worker.settings import get_settings

    given = os.environ.get("TEST_DATABASE_URL")
    tmpdir = None
    admin = None
    name = f"dropsync_test_{RUN_ID}"
    if given:
        url = given
    elif _backend() == "sqlite":
        tmpdir = tempfile.mkdtemp(prefix="dropsync-test-")
        url = f"sqlite:///{Path(tmpdir) / 'ledger.sqlite3'}"
    else:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    os.environ["DATABASE_URL"] = url
    os.environ["DROPSYNC_EMBEDDED_BROKER_PATH"] = str(
        Path(tmpdir or tempfile.mkdtemp(prefix="dropsync-broker-")) / "broker.sqlite3"
    )
    get_settings.cache_clear()
    reset_engine_cache()
    migrations.upgrade(url)
    yield url
    reset_engine_cache()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Engine:
    from worker.db import get_engine

    return get_engine()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits become savepoint releases)."""
    connection = engine.connect()
    transaction = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def committed_db(engine: Engine) -> Iterator[Engine]:
    """For tests whose work is committed by other processes or threads: every table emptied after."""
    yield engine
    truncate_all(engine)


def truncate_all(engine: Engine) -> None:
    import models

    tables = [t.name for t in reversed(models.Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    if "redis" in _missing:
        pytest.skip(_missing["redis"])
    return REDIS_URL


@pytest.fixture
def aliexpress_sandbox() -> Iterator[object]:
    """A running AliExpress sandbox (``.base_url``, ``.clock``, control methods, ``.client()``)."""
    from sandboxes.aliexpress import AliExpressSandbox, AliExpressSandboxConfig

    sandbox = AliExpressSandbox(AliExpressSandboxConfig(seed=7))
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def shopify_sandbox() -> Iterator[object]:
    """A running Shopify sandbox (50 seeded orders, seed 1): ``.base_url``, ``.config``, ``.control``,
    ``.graphql_url()``. Webhook retries back off in tenths of a second instead of hours."""
    from sandboxes.shopify import SandboxConfig, ShopifySandbox

    config = SandboxConfig(
        seed=1,
        orders=50,
        plan="standard",
        shop_domain="sandbox.myshopify.com",
        access_token="shpat_sandbox_test",
        client_secret="sandbox-test-secret",
        api_version="2026-10",
        webhook_backoff=(0.05, 0.1, 0.2),
        job_delay_seconds=0.0,
    )
    sandbox = ShopifySandbox(config)
    with sandbox.serve():
        yield sandbox
    sandbox.close()
