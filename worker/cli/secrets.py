"""``dropsync secrets``: the key that seals stored credentials — make one, check it, rotate to a new one."""

from __future__ import annotations

import typer

from worker import secrets
from worker.cli.common import console, print_json
from worker.db import get_engine

app = typer.Typer(help="The key sealing stored credentials (DROPSYNC_SECRET_KEY).", no_args_is_help=True)


@app.command("generate-key")
def generate_key() -> None:
    """Print a new key (put it in DROPSYNC_SECRET_KEY; keep it out of the database and its backups).

    Example: dropsync secrets generate-key
    """
    print(secrets.generate_key())


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Check that the configured key opens every stored credential (exit 2 if not).

    Example: dropsync secrets status
    """
    count = secrets.check_stored_credentials(get_engine())
    keys = secrets.keys_summary(secrets.configured_keys())
    if as_json:
        print_json({"stored_credentials": count, "keys": keys})
        return
    console.print(f"{count} stored credential(s) open with the configured key(s): {', '.join(keys) or 'none'}")


@app.command("rotate")
def rotate() -> None:
    """Re-seal every stored credential with the newest key (the first of DROPSYNC_SECRET_KEY).

    Put the new key first and keep the old one after it (DROPSYNC_SECRET_KEY=NEW,OLD), run this, then
    drop OLD from every process's environment. Values stored in plain text by an older version are
    sealed too. One transaction: on any error nothing changes.

    Example: DROPSYNC_SECRET_KEY=$NEW,$OLD dropsync secrets rotate
    """
    resealed, plain = secrets.rotate(get_engine())
    console.print(f"{resealed} credential(s) re-sealed with the newest key, {plain} sealed from plain text")
