"""Explicit wiring (``worker.wiring``): the worker, the CLI, the web app and the benches run the same
reactions, and importing a feature registers nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_PRINT = "from worker.wired import registered; import json; print(json.dumps(registered()))"

ENTRY_POINTS = {
    "worker": """
        from celery.signals import worker_init
        from worker.celery_app import app
        app.loader.import_default_modules()  # every task module, as the worker imports them
        worker_init.send(sender=None)
    """,
    "cli": """
        import sys
        from worker.cli.main import main
        sys.argv = ["dropsync", "sync", "backfill", "--help"]
        try:
            main()
        except SystemExit:
            pass
    """,
    "web": """
        from worker.settings import Settings
        from worker.web.app import create_app
        create_app(Settings(database_url="sqlite:///:memory:"))
    """,
    "bench": """
        from bench.common import production_wiring
        production_wiring()
    """,
}


def _registered_after(snippet: str) -> dict[str, list[str]]:
    code = textwrap.dedent(snippet) + "\n" + _PRINT
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def tables() -> dict[str, dict[str, list[str]]]:
    return {name: _registered_after(snippet) for name, snippet in ENTRY_POINTS.items()}


def test_worker_cli_web_and_benches_load_the_same_reactions(tables: dict[str, dict[str, list[str]]]) -> None:
    worker = tables["worker"]
    assert worker["orders_applied"] == [
        "worker.supplier.linking:link_applied_orders",
        "worker.cancellation.hooks:close_cancel_intents",
        "worker.chargebacks.hooks:link_chargebacks",
        "worker.crosscheck.hooks:check_applied_orders",
    ]
    assert "refunds/create -> worker.cancellation.hooks:close_refund_intent" in worker["after_topic"]
    assert worker["supplier_change"] == [
        "worker.cancellation.hooks:follow_supplier_change",
        "worker.crosscheck.hooks:check_supplier_change",
    ]
    for name in ("cli", "web", "bench"):
        assert tables[name] == worker, f"{name} runs other reactions than the worker"


def test_importing_the_features_registers_nothing() -> None:
    imported = _registered_after("""
        import worker.cancellation.tasks, worker.cancellation.hooks, worker.supplier.linking
        import worker.mirror.topics, worker.mirror.tasks
    """)
    assert imported == {"orders_applied": [], "topic_handlers": [], "after_topic": [], "supplier_change": []}


def test_an_unwired_process_refuses_to_apply_orders() -> None:
    code = """
        from worker.mirror.apply import apply_snapshots
        try:
            apply_snapshots(None, 1, [])
        except RuntimeError as exc:
            print("refused:", exc)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True)
    assert "refused: apply_snapshots: reactions not wired" in done.stdout, done.stderr


def test_every_reaction_resolves_to_a_function() -> None:
    from worker import wiring

    targets = [*wiring.ORDERS_APPLIED, *wiring.SUPPLIER_CHANGE, *wiring.SUPPLIER_RECORDED]
    targets += [target for _, target in (*wiring.TOPIC_HANDLERS, *wiring.AFTER_TOPIC)]
    for target in targets:
        assert callable(wiring.Reaction(target).resolve()), target
