"""The cross-checks against both sandboxes and the real stack (receiver, worker, beat as processes).

The merchant cancels in Shopify's admin while AliExpress awaits shipment: within one beat cycle an alert
names the order and the action, and the operator's webhook and mailbox get it. The seller closes and
refunds on AliExpress while Shopify is open: flagged. A cancellation the seller refused (never seen as
IN_CANCEL by a poll) is never advised as confirmed, even once the sandbox clock (shared by dropsync)
is 3 days on. Every alert resolves once its condition clears.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, select

from models import Alert, Order, SupplierOrder
from tests.cli.support import dropsync
from tests.support.receivers import HttpReceiver, SmtpReceiver
from worker.db import reset_engine_cache, session_scope
from worker.demo import story
from worker.settings import get_settings
from worker.stack import Stack, StackOptions, running, send_task, subscribe_webhooks
from worker.supplier import service as supplier

pytestmark = [pytest.mark.slow, pytest.mark.redis]
T = TypeVar("T")
BEAT = 10  # DROPSYNC_CROSSCHECK_INTERVAL_SECONDS in this test
#: What the stack puts in this process's environment: restored after the test.
STACK_ENV = (
    "SHOPIFY_SHOP_DOMAIN", "SHOPIFY_ACCESS_TOKEN", "SHOPIFY_CLIENT_SECRET", "SHOPIFY_API_URL", "ALIEXPRESS_API_URL",
    "ALIEXPRESS_APP_KEY", "ALIEXPRESS_APP_SECRET", "ALIEXPRESS_ACCESS_TOKEN", "ALIEXPRESS_REFRESH_TOKEN",
    "ALIEXPRESS_GATEWAY_TIMEZONE", "DROPSYNC_SANDBOX_CLOCK_URL",
)  # fmt: skip


def _wait(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"timed out: {what}")


def _order(gid: str) -> tuple[int, str]:
    with session_scope() as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == gid)).one()
        return order.id, order.name


def _alerts(order_id: int, *, open_only: bool = True) -> list[Alert]:
    with session_scope() as session:
        query = select(Alert).where(Alert.order_id == order_id, Alert.dedupe_key.startswith("crosscheck:"))
        if open_only:
            query = query.where(Alert.resolved_at.is_(None))
        return list(session.scalars(query.order_by(Alert.id)))


def _supplier(gid: str) -> SupplierOrder:
    with session_scope() as session:
        return story._supplier_order(session, gid)


@pytest.fixture
def stack(
    committed_db: Engine, database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Stack, HttpReceiver, SmtpReceiver]]:
    with HttpReceiver().serve() as http, SmtpReceiver().serve() as smtp:
        env = {
            "DATABASE_URL": database_url, "REDIS_URL": redis_url, "DROPSYNC_CROSSCHECK_INTERVAL_SECONDS": str(BEAT),
            "DROPSYNC_NOTIFY_WEBHOOK_URL": http.url, "DROPSYNC_NOTIFY_EMAIL_TO": "ops@example.com",
            "DROPSYNC_SMTP_HOST": "127.0.0.1", "DROPSYNC_SMTP_PORT": str(smtp.port), "DROPSYNC_SMTP_SECURITY": "none",
            "DROPSYNC_REDIS_KEY_PREFIX": f"dropsync-e2e-{tmp_path.name}:",
        }  # fmt: skip
        for name in (*env, *STACK_ENV):
            monkeypatch.setenv(name, env.get(name, "-"))  # restored after the test, whatever the stack sets
            if name not in env:
                monkeypatch.delenv(name)
        options = StackOptions(workdir=tmp_path, use_sandboxes=True, seed_orders=4, extra_env=env)
        with running(options, lambda _: None) as running_stack:
            yield running_stack, http, smtp
    get_settings.cache_clear()
    reset_engine_cache()


def test_one_sided_changes_are_caught_notified_and_resolved(stack: tuple[Stack, HttpReceiver, SmtpReceiver]) -> None:
    running_stack, http, smtp = stack
    shopify, aliexpress = running_stack.shopify, running_stack.aliexpress
    assert shopify is not None
    assert aliexpress is not None
    subscribe_webhooks(running_stack)
    cast = story.Cast()
    merchant = story._with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("12.40"))
    seller = story._with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("8.00"))
    refused = story._with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("9.00"))
    story.sweep(running_stack, [merchant, seller, refused], shopify.state.total_count, 60)
    story.poll_suppliers(running_stack, cast, 60)
    assert _supplier(merchant).status == "awaiting_shipment"

    # 1. The merchant cancels and refunds in Shopify's admin; AliExpress still awaits shipment.
    merchant_id, merchant_name = _order(merchant)
    started = time.monotonic()
    story.merchant_cancels_in_shopify(running_stack, merchant)
    alert = _wait("the one-sided cancellation alert", lambda: _alerts(merchant_id), BEAT * 3)[0]
    assert alert.kind == "shopify_cancelled_supplier_live"
    assert merchant_name in alert.message
    assert "ask the seller to cancel" in alert.message
    _wait("the webhook notification", lambda: any(merchant_name in d["body"]["text"] for d in http.delivered), BEAT)
    _wait("the e-mail", lambda: any(merchant_name in m["Subject"] for m in smtp.messages), BEAT)
    assert time.monotonic() - started < BEAT * 3  # caught by the mirror's hook, within a beat cycle or so
    text = next(d["body"]["text"] for d in http.delivered if merchant_name in d["body"]["text"])
    assert f"dropsync supplier cancel-requested '{merchant_name}'" in text
    # The operator asks the seller (on AliExpress, then records it): the alert resolves.
    aliexpress.request_cancellation(cast.supplier_ids[merchant])
    with session_scope() as session:
        supplier.record_cancellation_requested(session, story._supplier_order(session, merchant), "operator:test")
    _wait("the alert resolves", lambda: not _alerts(merchant_id), BEAT * 2)

    # 2. The seller closes and refunds on AliExpress while the Shopify order is open and unrefunded.
    seller_id, seller_name = _order(seller)
    aliexpress.force_status(cast.supplier_ids[seller], "FINISH", "cancel_order_close_trade")
    send_task("supplier.poll_one", _supplier(seller).id)
    flagged = _wait("the seller-side cancellation alert", lambda: _alerts(seller_id), BEAT * 3)[0]
    assert flagged.kind == "supplier_cancelled_shopify_open"
    assert "cancel and refund the customer, or re-order elsewhere" in flagged.message

    # 3. Cancelled in Shopify; the seller refuses the cancellation before any poll saw IN_CANCEL.
    refused_id, refused_name = _order(refused)
    story.merchant_cancels_in_shopify(running_stack, refused)
    _wait("the refused order's first alert", lambda: _alerts(refused_id), BEAT * 3)
    aliexpress.request_cancellation(cast.supplier_ids[refused])
    with session_scope() as session:
        supplier.record_cancellation_requested(session, story._supplier_order(session, refused), "operator:test")
    aliexpress.seller_refuses_cancellation(cast.supplier_ids[refused])
    aliexpress.clock.advance(days=3)  # the seller's 48 h are over, for AliExpress and for dropsync alike
    time.sleep(1.5)  # dropsync re-reads the shared clock at most once a second
    send_task("supplier.poll_one", _supplier(refused).id)
    _wait("the refusal is recognised", lambda: _supplier(refused).cancel_refused_at is not None, BEAT * 3)
    advice = _wait("the refusal advice", lambda: [a for a in _alerts(refused_id) if "refused" in a.message], BEAT * 3)
    assert "open a dispute" in advice[0].message
    _wait("the refusal is notified", lambda: any("refused" in d["body"]["text"] for d in http.delivered), BEAT)

    run = dropsync("check", "--json")
    assert run.code == 1, run.err
    report = json.loads(run.out)
    assert report["needs_attention"] is True
    for item in report["items"]:
        assert "confirm the cancellation" not in item["message"]
        assert item["shop"] == shopify.config.shop_domain
    by_order = {(i["order"], i["kind"]): i for i in report["items"]}
    assert (seller_name, "supplier_cancelled_shopify_open") in by_order
    assert by_order[(refused_name, "shopify_cancelled_supplier_live")]["command"].startswith("dropsync dispute open")
    assert (merchant_name, "shopify_cancelled_supplier_live") not in by_order  # resolved: not shown as true
    deadlines = json.loads(dropsync("deadlines", "--json").out)
    assert all("confirm the cancellation" not in row["message"] for row in deadlines)
    assert all("order" in row for row in deadlines)

    # Alerts resolve when the condition clears: the operator records the dispute for the refused order.
    assert dropsync("dispute", "open", refused_name, "--reason", "not_shipped").code == 0
    _wait("the refusal alert resolves", lambda: not _alerts(refused_id), BEAT * 3)
