"""What every CLI command shares: the console, JSON output, settings and the unit of work."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from worker.db import session_scope
from worker.settings import Settings, get_settings
from worker.shops import ensure_env_shop

console = Console(highlight=False)
#: ``--shop`` on every command that names an order: which shop's ``#1001`` (``acme`` or ``acme.myshopify.com``).
SHOP = typer.Option(None, "--shop", help="The shop (domain, or its name before .myshopify.com); or write shop:#1001.")
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def settings() -> Settings:
    return get_settings()


@contextlib.contextmanager
def unit_of_work() -> Iterator[Session]:
    """A CLI command's transaction; the environment's shop is registered on the way in."""
    with session_scope() as session:
        ensure_env_shop(session, get_settings())
        yield session


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=_default))


def print_history(data: dict[str, Any]) -> None:
    """A request's or a return's state changes as a table, then its Shopify actions, one line each."""
    from rich.table import Table

    table = Table("when", "from", "to", "by", "why")
    for h in data["history"]:
        table.add_row(str(h["at"])[:19], str(h["from"]), str(h["to"]), str(h["actor"]), str(h["why"]))
    if data["history"]:
        console.print(table)
    for i in data["intents"]:
        console.print(f"  intent {i['id']} {i['kind']}: {i['state']} after {i['attempts']} attempt(s)")


def at_currency_precision(data: Any, currency: str | None = None) -> Any:
    """``data`` with every Decimal rounded to its currency's minor unit for display ("23.79 USD", "1230 JPY",
    not the ledger's four stored places). The currency is the nearest enclosing ``"currency"`` key, else
    ``currency``; a Decimal with no known currency is left as stored."""
    from worker.money import is_currency, round_money

    if isinstance(data, dict):
        here = data.get("currency")
        own = here if isinstance(here, str) and is_currency(here) else currency
        return {k: at_currency_precision(v, own) for k, v in data.items()}
    if isinstance(data, list):
        return [at_currency_precision(v, currency) for v in data]
    if isinstance(data, Decimal) and currency:
        return round_money(data, currency)
    return data
