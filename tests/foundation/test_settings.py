"""Settings: defaults that run on a fresh machine, and one-line errors that name the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.settings import Settings, SettingsError, load_settings

DROPSYNC = str(Path(sys.executable).parent / "dropsync")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("DATABASE_URL", "REDIS_URL", "SHOPIFY_", "ALIEXPRESS_", "DROPSYNC_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def test_defaults_run_on_sqlite_and_the_embedded_broker(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.uses_embedded_broker
    assert settings.broker_url.startswith("dropsync-sqlite://localhost/")
    assert settings.shopify_api_version == "2026-10"


def test_redis_url_selects_redis(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    settings = load_settings()
    assert not settings.uses_embedded_broker
    assert settings.broker_url == "redis://127.0.0.1:6379/3"


def test_plain_postgres_url_gets_the_psycopg_driver(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://u:p@db.example/ledger")
    assert load_settings().sqlalchemy_url == "postgresql+psycopg://u:p@db.example/ledger"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL: not a database URL"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL: backend 'mysql' is not supported"),
        ("REDIS_URL", "http://cache", "REDIS_URL: must start with redis://"),
        ("SHOPIFY_TIMEOUT_SECONDS", "-1", "SHOPIFY_TIMEOUT_SECONDS: Input should be greater than 0"),
    ],
)
def test_bad_values_name_the_variable(clean_env: pytest.MonkeyPatch, variable: str, value: str, expected: str) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value).startswith(expected)
    assert "\n" not in str(err.value)


def test_secrets_are_not_echoed_in_errors(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SHOPIFY_TIMEOUT_SECONDS", "x")
    clean_env.setenv("ALIEXPRESS_APP_SECRET", "s3cr3t")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "s3cr3t" not in str(err.value)


def test_visibility_timeout_must_outlast_the_task_time_limit(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DROPSYNC_TASK_TIME_LIMIT", "600")
    clean_env.setenv("DROPSYNC_TASK_VISIBILITY_TIMEOUT", "300")
    with pytest.raises(SettingsError, match="DROPSYNC_TASK_VISIBILITY_TIMEOUT must exceed"):
        load_settings()


def test_cli_reports_a_malformed_database_url_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "postgres//oops"}
    result = subprocess.run([DROPSYNC, "db", "upgrade"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]]
    assert lines[0].startswith("dropsync: configuration error: DATABASE_URL: not a database URL")


def test_cli_typo_gets_usage_not_traceback(tmp_path: Path) -> None:
    result = subprocess.run([DROPSYNC, "db", "upgrade-all"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "Usage:" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_class_is_the_single_source(clean_env: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    documented = example.read_text()
    for field in Settings.model_fields.values():
        assert field.alias, f"{field} has no environment name"
        assert field.alias in documented, f"{field.alias} missing from .env.example"
