"""``dropsync policy …`` as an operator runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.policy.ledger import add_supplier_order, make_order
from worker.policy import DEFAULT_POLICY

REPO = Path(__file__).resolve().parents[2]
DROPSYNC = str(Path(sys.executable).with_name("dropsync"))


def run(*args: str, policy_file: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DROPSYNC_POLICY_FILE"}
    if policy_file is not None:
        env["DROPSYNC_POLICY_FILE"] = policy_file
    env["COLUMNS"] = "200"
    return subprocess.run(
        [DROPSYNC, "policy", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[returns]\nwindow_days = -3\n", "returns.window_days must be ≥ 0, got -3 ({file} line 2)"),
        ("[returns]\nwindowdays = 3\n", "unknown key returns.windowdays"),
        ('[returns]\nwindow_days = "x"\n', 'returns.window_days must be a whole number, got "x" ({file} line 2)'),
        ("[returns.reasons.chnaged_mind]\n", 'unknown reason "chnaged_mind" in [returns.reasons]'),
        ("[returns\n", "invalid TOML: "),
        ('[returns]\nwindow_days = "[/bold]"\n', 'must be a whole number, got "[/bold]" ({file} line 2)'),
    ],
)
def test_validate_a_bad_file_exits_2_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(text)
    result = run("validate", str(file))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dropsync: ")
    assert message.format(file=file) in lines[0]


def test_a_bad_configured_file_stops_every_policy_command(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text("[cancellation]\nallowed = 1\n")
    for args in (("explain",), ("lint",), ("check", "#1", "--reason", "damaged")):
        result = run(*args, policy_file=str(file))
        assert result.returncode == 2, args
        assert result.stderr.strip() == f"dropsync: cancellation.allowed must be true or false, got 1 ({file} line 2)"


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"dropsync: policy file {tmp_path / 'nope.toml'} does not exist (DROPSYNC_POLICY_FILE)"
    )


def test_validate_prints_the_version() -> None:
    result = run("validate", "policy.example.toml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"policy.example.toml: valid (version {DEFAULT_POLICY.version})"


def test_explain_and_lint_json(tmp_path: Path) -> None:
    explained = run("explain", "--json")
    assert explained.returncode == 0, explained.stderr
    data = json.loads(explained.stdout)
    assert data["version"] == DEFAULT_POLICY.version
    assert data["source"] == "built-in default policy"
    assert "changed mind: refused." in data["sections"]["Reasons"]
    file = tmp_path / "generous.toml"
    file.write_text("[returns.reasons.changed_mind]\naccepted = true\n")
    linted = run("lint", "--json", "--order-value", "80", "--currency", "EUR", policy_file=str(file))
    assert linted.returncode == 0, linted.stderr
    warnings = json.loads(linted.stdout)["warnings"]
    assert [(w["code"], w["money_at_risk"], w["currency"]) for w in warnings] == [
        ("reason-not-covered", "80.00", "EUR")
    ]
    words = run("lint", policy_file=str(file))
    assert "[reason-not-covered] Returns for 'changed mind' are accepted" in words.stdout
    assert "1 warning in" in words.stdout


def test_lint_refuses_a_bad_amount() -> None:
    result = run("lint", "--order-value", "lots")
    assert result.returncode == 2
    assert result.stderr.strip() == "dropsync: --order-value: not an amount: 'lots'"


def _committed_order(engine: Engine, status: str | None) -> tuple[str, int]:
    with Session(engine) as session:
        order = make_order(session)
        if status:
            add_supplier_order(session, order, status)
        session.commit()
        return order.name, order.line_items[1].id


@pytest.mark.slow
def test_check_prints_the_decision_and_why(committed_db: Engine) -> None:
    name, _ = _committed_order(committed_db, "awaiting_shipment")
    result = run("check", name, "--reason", "changed_mind", "--json", "--at", "2026-11-20T12:00:00Z")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert (decision["order"], decision["action"], decision["refund_total"]) == (name, "cancel", "56.00")
    assert decision["expected_supplier_recovery"] == "20.00"
    assert decision["policy_version"] == DEFAULT_POLICY.version
    partial = run("check", name, "--reason", "changed_mind", "--items", "2:1")  # line 2: the mug, in `orders show`
    assert partial.returncode == 0, partial.stderr
    assert "→ refund_items (allowed)" in partial.stdout
    assert "Refund total: 10.00 USD to the original payment method" in partial.stdout
    assert "Shipping is refunded only when every remaining item is refunded." in partial.stdout


@pytest.mark.slow
def test_check_a_denial_exits_0_and_bad_arguments_exit_2(committed_db: Engine) -> None:
    name, _ = _committed_order(committed_db, "shipped")
    denied = run("check", name, "--reason", "changed_mind", "--kind", "cancel")
    assert denied.returncode == 0, denied.stderr
    assert "→ deny (denied)" in denied.stdout
    assert "a cancellation is no longer possible" in denied.stdout
    for args, message in [
        (("--reason", "bored"), "--reason: unknown value 'bored' (choose from not_as_described,"),
        (("--reason", "damaged", "--items", "999999:1"), "--items: no line '999999' in order"),
        (("--reason", "damaged", "--kind", "swap"), "--kind: unknown value 'swap'"),
        (("--reason", "damaged", "--at", "yesterday"), "--at: not an ISO 8601 instant"),
    ]:
        result = run("check", name, *args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1
        assert message in result.stderr
    unknown = run("check", "#nope", "--reason", "damaged")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "dropsync: unknown order '#nope'"
