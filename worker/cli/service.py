"""``dropsync worker|beat|up|demo``: run the service."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from worker.cli.common import console, err_console, settings
from worker.runtime import StopRequested, beat_argv, stop_on_signals, worker_argv

if TYPE_CHECKING:
    from worker.stack import StackOptions


def worker(
    concurrency: int = typer.Option(2, "--concurrency", "-c", min=1, help="Pool processes."),
    pool: str = typer.Option("prefork", "--pool", help="prefork | threads | solo"),
) -> None:
    """Run the Celery worker (the Procfile's `worker`).

    Example: dropsync worker --concurrency 4
    """
    os.execv(worker_argv()[0], worker_argv(concurrency, pool))


def beat() -> None:
    """Run Celery beat, the periodic scheduler (the Procfile's `beat`). Run exactly one.

    Example: dropsync beat
    """
    os.execv(beat_argv()[0], beat_argv())


def up(
    data_dir: Path = typer.Option(
        Path("."), "--data-dir", help="Where the SQLite ledger, broker and beat schedule live (default: here)."
    ),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port of the webhook receiver (0: any free)."),
    orders: int = typer.Option(20, "--sandbox-orders", min=0, help="Orders seeded in the Shopify sandbox."),
    concurrency: int = typer.Option(2, "--concurrency", "-c", min=1, help="Worker pool processes."),
) -> None:
    """Run everything until Ctrl-C, SIGTERM or SIGHUP: webhook receiver, worker, beat (embedded broker and
    SQLite by default). Every child is stopped on any of those signals.

    Without SHOPIFY_ACCESS_TOKEN, both sandboxes start too (with seeded orders), the worker is pointed at
    them and the webhooks are subscribed: a working shop to try dropsync on. With a real shop, webhooks are
    subscribed when DROPSYNC_PUBLIC_URL is set (else run `dropsync shopify subscribe --url …`).

    Example: dropsync up --port 8000
    """
    from worker.stack import StackOptions  # the sandboxes: slow

    use_sandboxes = not settings().shopify_access_token
    extra_env = _local_env(data_dir) if use_sandboxes or settings().uses_embedded_broker else {}
    options = StackOptions(
        workdir=data_dir.resolve(), use_sandboxes=use_sandboxes, seed_orders=orders, concurrency=concurrency,
        web_port=port, log_to_files=False, extra_env=extra_env,
    )  # fmt: skip
    say = console.print
    try:
        with stop_on_signals():
            _run_until_stopped(options, use_sandboxes, say)
    except StopRequested as stop:
        say(f"stopped ({stop})")


def _run_until_stopped(options: StackOptions, use_sandboxes: bool, say: Callable[[str], None]) -> None:
    from worker.stack import StackError, running, send_task, subscribe_webhooks

    with running(options, say) as stack:
        say(f"ledger: {_database_label()}; broker: {_broker_label()}")
        public = settings().public_url
        if use_sandboxes or public:
            callback = None if use_sandboxes else public.rstrip("/") + "/webhooks/shopify"  # type: ignore[union-attr]
            topics = subscribe_webhooks(stack, callback)
            say(f"{topics} webhook topics subscribed to {callback or stack.callback_url}")
        else:
            say("webhooks not subscribed: set DROPSYNC_PUBLIC_URL or run `dropsync shopify subscribe --url …`")
        env_file = options.workdir / UP_ENV_FILE
        if use_sandboxes:
            send_task("mirror.reconcile_all")  # the first sweep mirrors the seeded orders now, not in 5 min
            _write_env_file(env_file, cli_env(stack.env))
            say(f"try it, in another terminal: set -a; . {env_file}; set +a; dropsync orders list")
            say("  (that file points the CLI at this ledger and both sandboxes: dropsync supplier poll, sync …)")
        say("running; Ctrl-C to stop")
        try:
            while not stack.dead():
                time.sleep(1)
            raise StackError(f"{', '.join(stack.dead())} exited unexpectedly; stopping everything")
        finally:
            env_file.unlink(missing_ok=True)  # its ports and sandboxes go with this run


#: Written by ``dropsync up`` with sandboxes: the environment its children run with (the ledger, the
#: broker, both sandboxes' URLs and credentials, and every setting of its own environment or ``.env``),
#: for the CLI in another terminal. Removed when it stops.
UP_ENV_FILE = "dropsync-up.env"


def cli_env(stack_env: dict[str, str]) -> dict[str, str]:
    """Every dropsync setting the children run with, for a CLI started elsewhere: the settings given to
    ``up`` (its environment or its ``.env``: the policy file, the database, the broker, notifications…)
    under what the stack set itself; relative paths made absolute (the other terminal may be anywhere).
    A CLI that read another policy or ledger than the worker would decide and show something else."""
    from worker.settings import Settings

    given = settings()
    env: dict[str, str] = {}
    for name in given.model_fields_set:
        alias = Settings.model_fields[name].alias or name.upper()
        value = getattr(given, name)
        if value is not None:
            env[alias] = os.environ.get(alias, _setting_text(value))
    env.update(stack_env)
    return {key: _absolute(key, value) for key, value in env.items()}


def _setting_text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _absolute(key: str, value: str) -> str:
    """A relative file setting (``DROPSYNC_POLICY_FILE=policy.toml``, ``sqlite:///ledger.db``) as an
    absolute one, as this process resolves it."""
    if key.endswith(("_FILE", "_PATH")) and value and not Path(value).is_absolute():
        return str(Path(value).resolve())
    prefix = "sqlite:///"
    if key == "DATABASE_URL" and value.startswith(prefix) and not value.startswith(prefix + "/"):
        path, _, query = value[len(prefix) :].partition("?")
        if path and path != ":memory:":
            return prefix + str(Path(path).resolve()) + (f"?{query}" if query else "")
    return value


def _write_env_file(path: Path, env: dict[str, str]) -> None:
    path.write_text("".join(f"{key}={shlex.quote(value)}\n" for key, value in sorted(env.items())))
    path.chmod(0o600)  # sandbox credentials only, but credentials


def _local_env(data_dir: Path) -> dict[str, str]:
    """The ledger and broker files under ``data_dir`` unless DATABASE_URL / the broker path are set."""
    env: dict[str, str] = {}
    if "DATABASE_URL" not in os.environ:
        env["DATABASE_URL"] = f"sqlite:///{(data_dir / 'dropsync.sqlite3').resolve()}"
    if "DROPSYNC_EMBEDDED_BROKER_PATH" not in os.environ:
        env["DROPSYNC_EMBEDDED_BROKER_PATH"] = str((data_dir / "dropsync-broker.sqlite3").resolve())
    if "DROPSYNC_SECRET_KEY" not in os.environ and "DROPSYNC_SECRET_KEY_FILE" not in os.environ:
        # Outside production the key sealing stored credentials is made on first need, beside the ledger.
        env["DROPSYNC_SECRET_KEY_FILE"] = str((data_dir / "dropsync-secret.key").resolve())
    return env


def demo(
    data_dir: Path = typer.Option(
        Path("demo-data"),
        "--data-dir",
        help="The workspace (ledger, broker, logs); wiped at start if empty or made by an earlier demo.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (for scripts and tests)."),
    timeout: float = typer.Option(60.0, "--step-timeout", min=5, help="Seconds each step may take to converge."),
) -> None:
    """Run the scripted story on a fresh workspace and print what the ledger and the sandboxes say.

    Starts the whole stack (sandboxes, receiver, worker, beat; SQLite and the embedded broker), then:
    orders arrive (some webhooks lost, the sweep finds them), a cancellation before shipment (supplier
    confirms, Shopify cancels and refunds), one after fulfillment (items refunded), one refused by the
    policy, one where the supplier had shipped, a buyer-protection alert, and the exposure report.
    Every number printed is read back from the ledger and the sandboxes. Exits 1 if a step does not
    converge in time.

    Example: dropsync demo --data-dir /tmp/dropsync-demo
    """
    from worker.devtools import require_development_tools

    require_development_tools()  # the production wheel has no demo: one line, exit 2
    from sandboxes.demo.runner import run_demo

    try:
        with stop_on_signals():  # SIGTERM/SIGHUP too: the stack's children never outlive the demo
            run_demo(data_dir, as_json=as_json, step_timeout=timeout)
    except StopRequested as stop:
        err_console.print(f"stopped ({stop})")
        raise typer.Exit(128 + stop.signum) from None


def _database_label() -> str:
    return settings().sqlalchemy_url.split("@")[-1]


def _broker_label() -> str:
    s = settings()
    return f"embedded ({s.embedded_broker_path})" if s.uses_embedded_broker else "Redis"
