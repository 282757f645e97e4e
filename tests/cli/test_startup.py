"""An instant CLI: ``import worker.cli.main`` loads no feature, each command imports only what it uses,
and ``dropsync --help`` lists every command with the line its own module gives."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap

import pytest
import typer

from worker.cli.main import COMMANDS

HEAVY = ("worker.cancellation", "sandboxes.shopify", "worker.cli.sandbox", "graphql", "alembic")
#: ``orders list`` reads four tables: no client, no mirror, no policy (``orders show`` imports the policy's
#: ``Decision`` where it reads one).
NOT_FOR_ORDERS_LIST = (
    *HEAVY,
    "celery",
    "kombu",
    "httpx",
    "integrations.shopify.client",
    "worker.mirror",
    "worker.policy",
)


def _modules_after(snippet: str) -> list[str]:
    code = textwrap.dedent(snippet) + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return modules


def _matching(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


def test_importing_the_cli_loads_no_feature() -> None:
    modules = _modules_after("import worker.cli.main")
    assert _matching(modules, HEAVY) == []
    assert _matching(modules, ("sqlalchemy", "worker.settings", "structlog")) == []  # not even those


def test_orders_list_imports_only_what_it_uses() -> None:
    modules = _modules_after("""
        from worker.cli.main import COMMANDS
        next(sub for sub in COMMANDS if sub.name == "orders").load()
    """)
    assert "worker.cli.orders" in modules
    assert _matching(modules, NOT_FOR_ORDERS_LIST) == []


def test_a_real_orders_list_run_imports_no_policy_and_no_client(database_url: str) -> None:
    """The whole command as a process runs it (wiring, logging, the query), not only its module's imports."""
    code = """
        import atexit, json, sys
        atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
        from worker.cli.main import main
        sys.argv = ["dropsync", "orders", "list", "--json"]
        main()
    """
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    assert "worker.cli.orders" in modules
    assert _matching(modules, NOT_FOR_ORDERS_LIST) == []


def _first_paragraph(text: str | None) -> str:
    return " ".join(inspect.cleandoc(text or "").split("\n\n")[0].split())


@pytest.mark.parametrize("sub", COMMANDS, ids=[sub.name for sub in COMMANDS])
def test_the_listed_help_line_is_the_commands_own(sub) -> None:  # type: ignore[no-untyped-def]
    module, _, attribute = sub.target.partition(":")
    obj = getattr(__import__(module, fromlist=[attribute]), attribute)
    own = obj.info.help if isinstance(obj, typer.Typer) else obj.__doc__
    assert sub.help == _first_paragraph(own)


def test_help_lists_every_command_without_importing_them() -> None:
    code = """
        import sys
        from worker.cli.main import main
        sys.argv = ["dropsync", "--help"]
        try:
            main()
        except SystemExit:
            pass
    """
    code = textwrap.dedent(code) + "\nprint(sorted(m for m in sys.modules if m.startswith('worker.cli.')))"
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    for sub in COMMANDS:
        assert f" {sub.name} " in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "['worker.cli.lazy', 'worker.cli.main']"


_COLLECTOR_SPY = """
    import atexit, gc, json, sys
    import worker.cli.orders
    seen = {}
    real = worker.cli.orders.list_rows

    def spy(*args, **kwargs):
        seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())
        return real(*args, **kwargs)

    worker.cli.orders.list_rows = spy
    atexit.register(lambda: print(json.dumps({**seen, "enabled_at_exit": gc.isenabled(),
                                              "frozen_at_exit": gc.get_freeze_count()}), file=sys.stderr))
    import worker.cli.main
    sys.argv = ["dropsync", *ARGV]
    worker.cli.main.ENTRY()
"""


def _collector(entry: str, argv: list[str], database_url: str) -> dict[str, object]:
    code = textwrap.dedent(_COLLECTOR_SPY).replace("ARGV", repr(argv)).replace("ENTRY", entry)
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    seen: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return seen


def test_the_console_script_runs_the_command_with_the_collector_on(database_url: str) -> None:
    """``run()`` pauses the collector while the process starts, and the command itself runs with it on, what
    start-up loaded frozen: a long command (the worker, a backfill) must never run without collections."""
    seen = _collector("run", ["orders", "list", "--json"], database_url)
    assert seen["enabled"] is True
    assert isinstance(seen["frozen"], int)
    assert seen["frozen"] > 20_000  # SQLAlchemy, the models, typer
    assert seen["enabled_at_exit"] is True
    # and what the command left is frozen as it ends: the interpreter's last full collection skips it
    assert isinstance(seen["frozen_at_exit"], int)
    assert seen["frozen_at_exit"] > seen["frozen"]


def test_main_in_a_tests_process_leaves_the_collector_alone(database_url: str) -> None:
    seen = _collector("main", ["orders", "list", "--json"], database_url)
    assert seen == {"enabled": True, "frozen": 0, "enabled_at_exit": True, "frozen_at_exit": 0}


@pytest.mark.parametrize("argv", [["--help"], ["orders", "list", "--limit", "0"], ["no-such-command"]])
def test_the_collector_is_back_on_when_no_command_ran(argv: list[str], database_url: str) -> None:
    """--help, a usage error: the process ends without running a command, with its collector on."""
    seen = _collector("run", argv, database_url)
    assert seen["enabled_at_exit"] is True
    assert set(seen) == {"enabled_at_exit", "frozen_at_exit"}  # no command ran
