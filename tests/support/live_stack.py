"""The real stack for end-to-end cross-check tests: receiver, worker and beat as processes, both sandboxes,
and the operator's notification receivers (webhook and SMTP). Shared by the cross-check e2e modules.

``live_stack`` starts it with this process's settings pointed at it (restored afterwards); the probes
read the ledger the children write, and ``wait`` polls a probe until it holds (state, never sleeps).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from sqlalchemy import select

from models import Alert, Order, SupplierOrder
from sandboxes.demo import story
from tests.cli.support import dropsync
from tests.support.receivers import HttpReceiver, SmtpReceiver
from worker.db import reset_engine_cache, session_scope
from worker.settings import get_settings
from worker.stack import Stack, StackOptions, running, subscribe_webhooks

if TYPE_CHECKING:
    from sandboxes.aliexpress import AliExpressSandbox
    from sandboxes.shopify import ShopifySandbox

T = TypeVar("T")
BEAT = 10  # DROPSYNC_CROSSCHECK_INTERVAL_SECONDS in these tests
#: What the stack puts in this process's environment: restored after the test.
STACK_ENV = (
    "SHOPIFY_SHOP_DOMAIN", "SHOPIFY_ACCESS_TOKEN", "SHOPIFY_CLIENT_SECRET", "SHOPIFY_API_URL", "ALIEXPRESS_API_URL",
    "ALIEXPRESS_APP_KEY", "ALIEXPRESS_APP_SECRET", "ALIEXPRESS_ACCESS_TOKEN", "ALIEXPRESS_REFRESH_TOKEN",
    "ALIEXPRESS_GATEWAY_TIMEZONE", "DROPSYNC_SANDBOX_CLOCK_URL",
)  # fmt: skip
LiveStack = tuple[Stack, HttpReceiver, SmtpReceiver]


@contextlib.contextmanager
def live_stack(
    database_url: str, redis_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch, seed_orders: int = 4
) -> Iterator[LiveStack]:
    """The stack, notifying a local webhook and mailbox, with the cross-check every ``BEAT`` seconds."""
    with HttpReceiver().serve() as http, SmtpReceiver().serve() as smtp:
        env = {
            "DATABASE_URL": database_url, "REDIS_URL": redis_url, "DROPSYNC_CROSSCHECK_INTERVAL_SECONDS": str(BEAT),
            "DROPSYNC_NOTIFY_WEBHOOK_URL": http.url, "DROPSYNC_NOTIFY_EMAIL_TO": "ops@example.com",
            "DROPSYNC_SMTP_HOST": "127.0.0.1", "DROPSYNC_SMTP_PORT": str(smtp.port), "DROPSYNC_SMTP_SECURITY": "none",
            "DROPSYNC_REDIS_KEY_PREFIX": f"dropsync-e2e-{workdir.name}:",
        }  # fmt: skip
        for name in (*env, *STACK_ENV):
            monkeypatch.setenv(name, env.get(name, "-"))  # restored after the test, whatever the stack sets
            if name not in env:
                monkeypatch.delenv(name)
        options = StackOptions(workdir=workdir, use_sandboxes=True, seed_orders=seed_orders, extra_env=env)
        try:
            with running(options, lambda _: None) as running_stack:
                yield running_stack, http, smtp
        finally:
            get_settings.cache_clear()
            reset_engine_cache()


def sandboxes(stack: Stack) -> tuple[ShopifySandbox, AliExpressSandbox]:
    """Both sandboxes of the running stack, with dropsync subscribed to the shop's webhooks."""
    subscribe_webhooks(stack)
    return story._sandboxes(stack)


def wait(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"timed out: {what}")


def order(gid: str) -> tuple[int, str]:
    """The ledger's id and name of the Shopify order ``gid``."""
    with session_scope() as session:
        row = session.scalars(select(Order).where(Order.shopify_gid == gid)).one()
        return row.id, row.name


def alerts(order_id: int, *, open_only: bool = True) -> list[Alert]:
    """The order's cross-check alerts (open ones by default), oldest first."""
    with session_scope() as session:
        query = select(Alert).where(Alert.order_id == order_id, Alert.dedupe_key.startswith("crosscheck:"))
        if open_only:
            query = query.where(Alert.resolved_at.is_(None))
        return list(session.scalars(query.order_by(Alert.id)))


def supplier(gid: str) -> SupplierOrder:
    """The one supplier order linked to the Shopify order ``gid``."""
    with session_scope() as session:
        return story._supplier_order(session, gid)


def check_items() -> tuple[int, list[dict[str, Any]]]:
    """``dropsync check --json`` as a process: its exit code and items."""
    run = dropsync("check", "--json")
    assert "Traceback" not in run.err, run.err
    return run.code, json.loads(run.out)["items"]


def notified(http: HttpReceiver, *needles: str) -> str | None:
    """The text of a delivered webhook notification containing every needle, if one arrived."""
    texts = [str(d["body"].get("text", "")) for d in list(http.delivered)]
    return next((t for t in texts if all(n in t for n in needles)), None)
