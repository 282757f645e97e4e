"""Migrations build the schema on SQLite and PostgreSQL, and the models never drift from them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

import models
from tests.conftest import PG_ADMIN_URL
from worker import migrations


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"dropsync_mig_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _upgrade_check_downgrade(url: str) -> None:
    migrations.upgrade(url)
    engine = create_engine(url)
    assert set(models.Base.metadata.tables) <= set(inspect(engine).get_table_names())
    assert migrations.at_head(engine)
    migrations.check(url)  # raises if the models and the migrations differ
    migrations.upgrade(url)  # idempotent at head
    from alembic import command

    command.downgrade(migrations.alembic_config(url), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_upgrade_check_and_downgrade_on_sqlite(fresh_sqlite: str) -> None:
    _upgrade_check_downgrade(fresh_sqlite)


@pytest.mark.postgres
def test_upgrade_check_and_downgrade_on_postgres(fresh_postgres: str) -> None:
    _upgrade_check_downgrade(fresh_postgres)


def test_cli_db_upgrade_uses_database_url(fresh_sqlite: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": fresh_sqlite}
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "dropsync"), "db", "upgrade"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert migrations.at_head(create_engine(fresh_sqlite))
