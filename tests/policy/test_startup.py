"""The service runs with the configured policy and refuses to start with a bad one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.policy import DEFAULT_POLICY, PolicyFileError
from worker.policy.startup import configured_policy
from worker.settings import get_settings

CELERY = str(Path(sys.executable).with_name("celery"))


@pytest.fixture
def policy_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    file = tmp_path / "policy.toml"
    monkeypatch.setenv("DROPSYNC_POLICY_FILE", str(file))
    get_settings.cache_clear()
    yield file
    monkeypatch.delenv("DROPSYNC_POLICY_FILE")
    get_settings.cache_clear()


def test_unset_means_the_built_in_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DROPSYNC_POLICY_FILE", raising=False)
    get_settings.cache_clear()
    try:
        assert configured_policy() is DEFAULT_POLICY
    finally:
        get_settings.cache_clear()


def test_the_configured_file_is_reread_when_it_changes_and_refused_when_broken(policy_env: Path) -> None:
    policy_env.write_text("[returns]\nwindow_days = 20\n")
    first = configured_policy()
    assert first.returns.window_days == 20
    assert configured_policy() is first  # unchanged file: not parsed again
    policy_env.write_text("[returns]\nwindow_days = 25\n# longer\n")
    assert configured_policy().returns.window_days == 25
    policy_env.write_text("[returns]\nwindow_days = -1\n")
    with pytest.raises(PolicyFileError, match=r"returns.window_days must be ≥ 0, got -1 \(.*line 2\)"):
        configured_policy()
    policy_env.unlink()
    with pytest.raises(PolicyFileError, match="does not exist"):
        configured_policy()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["worker", "beat"])
def test_a_worker_or_beat_with_a_bad_policy_file_stops_at_start_up(tmp_path: Path, command: str) -> None:
    file = tmp_path / "policy.toml"
    file.write_text("[returns]\nwindow_days = -3\n")
    env = {
        **os.environ,
        "DROPSYNC_POLICY_FILE": str(file),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
        "DROPSYNC_EMBEDDED_BROKER_PATH": str(tmp_path / "broker.sqlite3"),
    }
    env.pop("REDIS_URL", None)
    extra = ["--pool", "solo"] if command == "worker" else ["-s", str(tmp_path / "beat-schedule")]
    result = subprocess.run(
        [CELERY, "-A", "worker.celery_app", command, *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=90,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"dropsync: returns.window_days must be ≥ 0, got -3 ({file} line 2)" in result.stderr.splitlines()
