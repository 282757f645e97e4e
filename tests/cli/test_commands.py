"""The command tree as a whole: every command documented with an example; exit codes and one-line errors
from real ``dropsync`` processes (usage 2, refused by a rule 1, never a traceback)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from models import CancellationRequest
from tests.cli.support import dropsync
from tests.supplier.factories import make_order, make_shop
from worker.cli.main import app
from worker.db import session_scope


def _leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield path, command
        return
    for name, sub in subcommands.items():
        yield from _leaves(sub, (*path, name))


ROOT = typer.main.get_command(app)
ROOT.load_all()  # type: ignore[attr-defined]  # sub-commands are lazy: import them all to walk the tree
LEAVES = list(_leaves(ROOT))


def test_the_tree_has_the_issue_commands() -> None:
    names = {" ".join(path) for path, _ in LEAVES}
    for wanted in ("orders list", "orders show", "cancel request", "cancel status", "cancel withdraw",
                   "supplier link", "supplier confirm", "supplier refuse", "supplier shipped",
                   "supplier refund-received", "dispute open", "dispute resolve", "deadlines", "sync reconcile",
                   "sync backfill", "inbox list", "inbox replay", "intents list-stuck", "intents retry",
                   "intents resolve", "report exposure", "policy check", "db upgrade", "web", "sandbox shopify",
                   "sandbox aliexpress", "shopify subscribe", "up", "demo", "worker", "beat"):  # fmt: skip
        assert wanted in names


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=[" ".join(p) for p, _ in LEAVES])
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`dropsync {' '.join(path)} --help` shows no example"


@pytest.fixture
def done_request(committed_db: Engine) -> str:
    with session_scope() as session:
        order = make_order(session, make_shop(session))
        order.cancelled_at = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
        session.add(CancellationRequest(shop_id=order.shop_id, order_id=order.id, reason="changed_mind", state="done",
                                        state_history=[{"from": "shopify_action", "to": "done", "at": "2026-03-03",
                                                        "actor": "worker", "why": "cancelled"}]))  # fmt: skip
        return order.name


def test_exit_codes_and_one_line_errors(done_request: str) -> None:
    # Refused by a rule → 1: withdrawing after Shopify acted; cancelling an order Shopify already cancelled.
    dropsync("cancel", "withdraw", done_request).assert_one_line_error(1)
    dropsync("cancel", "request", done_request, "--reason", "changed_mind").assert_one_line_error(1)
    # Usage → 2: unknown order, unknown reason, bad option value.
    dropsync("cancel", "status", "#424242").assert_one_line_error(2)
    dropsync("cancel", "request", done_request, "--reason", "bored").assert_one_line_error(2)
    dropsync("report", "exposure", "gid://shopify/Order/0").assert_one_line_error(2)
    typo = dropsync("cancle", "status", done_request)
    assert typo.code == 2
    assert "No such command" in typo.err
    assert "Traceback" not in typo.err
    missing = dropsync("orders", "show")
    assert missing.code == 2
    assert "Missing argument" in missing.err


def test_read_commands_answer_json_from_one_ledger(done_request: str) -> None:
    status = dropsync("cancel", "status", done_request, "--json")
    assert status.code == 0, status.err
    assert json.loads(status.out)["state"] == "done"
    for args in (("report", "exposure", "--json"), ("deadlines", "--json"), ("inbox", "list", "--json"),
                 ("intents", "list-stuck", "--json"), ("supplier", "list", "--json")):  # fmt: skip
        run = dropsync(*args)
        assert run.code == 0, (args, run.err)
        json.loads(run.out)  # machine-readable, nothing else on stdout


def test_a_ledger_without_its_tables_points_to_the_upgrade(tmp_path: Path) -> None:
    """A fresh database (or an old one) is not "unavailable": the one line names the command that fixes it."""
    run = dropsync("orders", "list", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    run.assert_one_line_error(1)
    assert run.err.strip().endswith("run dropsync db upgrade"), run.err
    assert "no such table: orders" in run.err


def test_a_transaction_the_database_kept_aborting_says_to_run_the_command_again() -> None:
    """A deadlock that outlasted its retries is not "database unavailable": the server is up, the command
    can simply be run again (a backfill resumes from its checkpoint)."""
    from psycopg.errors import DeadlockDetected
    from sqlalchemy.exc import OperationalError

    from worker.cli.main import _exit_code

    raw = DeadlockDetected("deadlock detected\nDETAIL: Process 1 waits")  # as COPY raises it (the driver's cursor)
    for aborted in (OperationalError("INSERT …", {}, raw), raw):
        code, line = _exit_code(aborted) or (0, "")
        assert code == 1
        assert line.startswith("dropsync: the database aborted this command's transaction")
        assert "(deadlock detected)" in line
        assert line.endswith("run it again")
        assert "unavailable" not in line
