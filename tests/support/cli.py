"""``dropsync`` run inside the test process (fast; sees the test's monkeypatches and fixtures)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from worker.cli.main import main
from worker.settings import get_settings

InProcess = Callable[..., tuple[int, str, str]]


def in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> InProcess:
    """A runner of ``dropsync ARGS`` → (exit code, stdout, stderr), with ``env`` set and settings re-read.

    Clear ``get_settings`` again when the test ends: the next test must not see this environment.
    """
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["dropsync", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
