"""``dropsync db``: the ledger's schema."""

from __future__ import annotations

import typer

from worker import migrations
from worker.cli.common import console, settings

app = typer.Typer(help="The ledger database: migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: head).

    Example: dropsync db upgrade
    """
    migrations.upgrade(settings().sqlalchemy_url, revision)
    console.print(f"database at {revision}")


@app.command("check")
def check() -> None:
    """Fail if the models and the migrations have drifted apart (CI runs this).

    Example: dropsync db check
    """
    migrations.check(settings().sqlalchemy_url)
    console.print("models and migrations agree")
