"""The ``dropsync`` command: one tree, one clear line per error, meaningful exit codes.

Exit codes: 0 ok, 1 refused by a rule, 2 usage (bad argument, unknown order or shop).
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import OperationalError

from integrations.errors import IntegrationError
from worker.cli import (
    cancel,
    chargebacks,
    check,
    db,
    deadlines,
    dispute,
    inbox,
    intents,
    orders,
    policy,
    report,
    returns,
    sandbox,
    secrets,
    service,
    shopify,
    shops,
    supplier,
    sync,
    web,
)
from worker.cli.common import err_console
from worker.crosscheck import hooks as crosscheck_hooks
from worker.errors import DropsyncError
from worker.observability.logging import configure_logging_from_env
from worker.settings import SettingsError

app = typer.Typer(
    name="dropsync",
    help="Shopify ↔ AliExpress dropshipping back office: mirror orders, track suppliers, "
    "cancel and refund exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
crosscheck_hooks.install()  # the CLI applies orders and records supplier changes: the reactions run here too
app.add_typer(db.app, name="db")
app.add_typer(orders.app, name="orders")
app.add_typer(shops.app, name="shops")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(policy.app, name="policy")
app.add_typer(sync.app, name="sync")
app.add_typer(inbox.app, name="inbox")
app.add_typer(shopify.app, name="shopify")
app.add_typer(supplier.app, name="supplier")
app.add_typer(dispute.app, name="dispute")
app.add_typer(cancel.app, name="cancel")
app.add_typer(returns.app, name="returns")
app.add_typer(intents.app, name="intents")
app.add_typer(report.app, name="report")
app.add_typer(chargebacks.app, name="chargebacks")
app.add_typer(secrets.app, name="secrets")
app.command("deadlines")(deadlines.deadlines)
app.command("check")(check.check)
app.command("worker")(service.worker)
app.command("beat")(service.beat)
app.command("up")(service.up)
app.command("demo")(service.demo)
app.command("web")(web.web)


def main() -> None:
    try:
        configure_logging_from_env()
        app()  # standalone: usage errors print the usage line and exit 2
    except KeyboardInterrupt:
        err_console.print("aborted")
        sys.exit(130)
    except SettingsError as exc:
        err_console.print(f"dropsync: configuration error: {exc}")
        sys.exit(2)
    except (DropsyncError, IntegrationError) as exc:
        # markup=False: messages quote user input and TOML tables ("[returns]"); rich would eat or choke on them.
        err_console.print(f"dropsync: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except OperationalError as exc:
        err_console.print(f"dropsync: database unavailable: {str(exc.orig).splitlines()[0]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
