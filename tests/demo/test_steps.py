"""The demo's guard rails, without starting the stack: stalled steps, dead children, the workspace."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sandboxes.demo.runner import MARKER, fresh_workspace
from sandboxes.demo.story import StepTimeout, wait_for
from worker.errors import UsageError
from worker.runtime import ManagedProcess
from worker.stack import Stack, StackError, StackOptions


def _stack(tmp_path: Path, processes: list[ManagedProcess] | None = None) -> Stack:
    stack = Stack(StackOptions(workdir=tmp_path, use_sandboxes=False), env={}, web_url="http://127.0.0.1:1")
    stack.processes = processes or []
    return stack


def test_a_step_that_never_converges_names_itself(tmp_path: Path) -> None:
    with pytest.raises(StepTimeout, match="step 'the sweep' did not converge within 1 s"):
        wait_for("the sweep", lambda: None, _stack(tmp_path), timeout=0.6)


def test_a_step_returns_what_the_probe_found(tmp_path: Path) -> None:
    answers = iter([None, None, "found"])
    assert wait_for("x", lambda: next(answers), _stack(tmp_path), timeout=5) == "found"


def test_a_dead_child_stops_the_wait_at_once(tmp_path: Path) -> None:
    child = ManagedProcess("worker", [sys.executable, "-c", "pass"]).start()
    assert child.process is not None
    child.process.wait(10)
    with pytest.raises(StackError, match="worker exited"):
        wait_for("anything", lambda: None, _stack(tmp_path, [child]), timeout=30)


def test_the_workspace_is_wiped_only_when_a_demo_made_it(tmp_path: Path) -> None:
    workspace = fresh_workspace(tmp_path / "demo")
    (workspace / "ledger.sqlite3").write_text("old run")
    again = fresh_workspace(tmp_path / "demo")
    assert again == workspace
    assert sorted(p.name for p in again.iterdir()) == [MARKER]  # the previous run's files are gone
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        fresh_workspace(tmp_path / "file")
