"""``dropsync sandbox``: the local Shopify and AliExpress sandboxes (for trying dropsync, tests, demos)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the local Shopify and AliExpress sandboxes.", no_args_is_help=True)
