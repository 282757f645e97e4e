"""The ``dropsync`` command: one tree, one clear line per error, meaningful exit codes.

Exit codes: 0 ok, 1 refused by a rule, 2 usage (bad argument, unknown order or shop).

Sub-commands are lazy (``worker.cli.lazy``): this module imports typer and nothing else of weight, so
``dropsync --help`` is instant and each command imports only what it uses. Add a sub-command with one
``Sub`` line in :data:`COMMANDS`.
"""

from __future__ import annotations

import gc
import sys

import typer

from worker.cli.lazy import Sub, lazy_group

COMMANDS: list[Sub] = [
    Sub("deadlines", "worker.cli.deadlines:deadlines",
        "Supplier deadlines near or passed, Shopify/AliExpress disagreements, unknown statuses, failing "
        "polls and other open alerts, most urgent first; each with its shop, order and the command that "
        "acts on it."),
    Sub("worker", "worker.cli.service:worker", "Run the Celery worker (the Procfile's `worker`)."),
    Sub("beat", "worker.cli.service:beat",
        "Run Celery beat, the periodic scheduler (the Procfile's `beat`). Run exactly one."),
    Sub("up", "worker.cli.service:up",
        "Run everything until Ctrl-C, SIGTERM or SIGHUP: webhook receiver, worker, beat (embedded broker "
        "and SQLite by default). Every child is stopped on any of those signals."),
    Sub("demo", "worker.cli.service:demo",
        "Run the scripted story on a fresh workspace and print what the ledger and the sandboxes say."),
    Sub("web", "worker.cli.web:web",
        "Serve the web app with uvicorn, one process (scale by running more `web` processes)."),
    Sub("db", "worker.cli.db:app", "The ledger database: migrations."),
    Sub("orders", "worker.cli.orders:app", "Mirrored orders: list, show."),
    Sub("shops", "worker.cli.shops:app", "Shops served by this deployment."),
    Sub("sandbox", "worker.cli.sandbox:app", "Run the local Shopify and AliExpress sandboxes."),
    Sub("policy", "worker.cli.policy:app", "The store's return and cancellation policy (DROPSYNC_POLICY_FILE)."),
    Sub("sync", "worker.cli.sync:app", "Bring the ledger up to date with Shopify."),
    Sub("inbox", "worker.cli.inbox:app", "Webhook deliveries: list, replay."),
    Sub("shopify", "worker.cli.shopify:app", "Shopify-side setup."),
    Sub("supplier", "worker.cli.supplier:app", "Supplier (AliExpress) orders: link, record, poll."),
    Sub("dispute", "worker.cli.dispute:app", "Disputes opened on AliExpress (recorded here)."),
    Sub("check", "worker.cli.check:check",
        "What needs a person: Shopify/AliExpress disagreements, supplier deadlines, open alerts."),
    Sub("cancel", "worker.cli.cancel:app", "Cancellation requests: request, status, withdraw, approve, resume."),
    Sub("returns", "worker.cli.returns:app",
        "Returns after shipment: request, list, show, approve, decline, received, resume, done."),
    Sub("chargebacks", "worker.cli.chargebacks:app",
        "Chargebacks (Shopify Payments disputes): list, show, evidence, submit."),
    Sub("secrets", "worker.cli.secrets:app",
        "The key sealing stored credentials (DROPSYNC_SECRET_KEY)."),
    Sub("intents", "worker.cli.intents:app", "Shopify action intents: list stuck ones, retry, resolve by hand."),
    Sub("report", "worker.cli.report:app", "Reports from the ledger."),
]  # fmt: skip

app = typer.Typer(
    name="dropsync",
    help="Shopify ↔ AliExpress dropshipping back office: mirror orders, track suppliers, "
    "cancel and refund exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=lazy_group(COMMANDS),
)

_standalone = False  # set by main(): a real process configures logging from its environment


@app.callback()
def _entry() -> None:
    """Runs before any sub-command (not for --help): the process's reactions and logging."""
    from worker.wiring import wire

    wire()  # the same reactions as the worker and the benches (worker.wiring)
    if _standalone:
        from worker.observability.logging import configure_logging_from_env

        configure_logging_from_env()
    _start_up_done()


def _exit_code(exc: Exception) -> tuple[int, str] | None:
    """(exit code, the one line to print) for the errors a command may end with; None: a bug, re-raise."""
    from integrations.errors import IntegrationError
    from worker.errors import DropsyncError

    if isinstance(exc, (DropsyncError, IntegrationError)):
        return exc.exit_code, f"dropsync: {exc}"
    if "worker.settings" in sys.modules:  # not imported: it cannot have raised
        from worker.settings import SettingsError

        if isinstance(exc, SettingsError):
            return 2, f"dropsync: configuration error: {exc}"
    from worker.db.transient import is_transient

    if is_transient(exc):  # a deadlock or serialization failure, as SQLAlchemy wraps it or the driver raises it
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return 1, (f"dropsync: the database aborted this command's transaction for another's ({first}); "
                   "what committed stays: run it again")  # fmt: skip
    if "sqlalchemy.exc" in sys.modules:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        if isinstance(exc, (OperationalError, ProgrammingError)):
            first = str(exc.orig).splitlines()[0]
            if _missing_schema(first):
                return 1, f"dropsync: the ledger's tables are missing or out of date ({first}): run dropsync db upgrade"
            if isinstance(exc, OperationalError):
                return 1, f"dropsync: database unavailable: {first}"
    return None


def _missing_schema(message: str) -> bool:
    """SQLite's and PostgreSQL's words for a table or column the migrations have not created yet."""
    lowered = message.lower()
    return (
        "no such table" in lowered
        or "no such column" in lowered
        or ("does not exist" in lowered and ("relation " in lowered or "column " in lowered))
    )


def run() -> None:
    """The ``dropsync`` console script: :func:`main`, with the cyclic garbage collector paused while the
    process starts.

    Start-up imports typer, SQLAlchemy, the models and the command's module: ~90,000 objects that live as
    long as the process. The collector walked them over and over while they were created and again as the
    command began (~200 collections, 65 ms of ``dropsync orders list``, which took 0.63 s; 0.46 s without
    them). So it is off until the command is resolved, imported, wired and its logging set, then what
    start-up made is frozen (``gc.freeze``: never walked again) and the collector is on again before the
    command runs (:func:`_start_up_done`). Only the process's own entry does this: ``main()`` called in a
    test's process leaves its collector alone.

    When the command is done, whatever is still alive is frozen too: the interpreter's last act is a full
    collection, and after a backfill of 100,000 orders it walked the heap for 0.7 s between the command's
    last line and the process's end (0.05 s frozen). What is garbage by then is the process's to free, and
    the atexit handlers (logging, the engine's pool) still run.
    """
    global _paused
    _paused = True
    gc.disable()
    try:
        main()
    finally:
        _start_up_done()  # --help, a usage error or a failure before the command ran
        gc.freeze()


_paused = False  # set by run(): the collector is off until the command is about to run


def _start_up_done() -> None:
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def main() -> None:
    global _standalone
    _standalone = True
    try:
        app()  # standalone: usage errors print the usage line and exit 2
    except KeyboardInterrupt:
        _err("aborted")
        sys.exit(130)
    except Exception as exc:
        handled = _exit_code(exc)
        if handled is None:
            raise
        # markup=False: messages quote user input and TOML tables ("[returns]"); rich would eat or choke on them.
        _err(handled[1])
        sys.exit(handled[0])


def _err(line: str) -> None:
    from worker.cli.common import err_console

    err_console.print(line, markup=False)


if __name__ == "__main__":
    run()
