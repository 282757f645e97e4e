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

import pytest

from sandboxes.demo import story
from tests.cli.support import dropsync
from tests.support import live_stack as live
from tests.support.live_stack import BEAT, LiveStack
from worker.db import session_scope
from worker.stack import send_task
from worker.supplier import service as supplier

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_one_sided_changes_are_caught_notified_and_resolved(stack: LiveStack) -> None:
    running_stack, http, smtp = stack
    shopify, aliexpress = live.sandboxes(running_stack)
    cast = story.Cast()
    merchant = story._with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("12.40"))
    seller = story._with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("8.00"))
    refused = story._with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("9.00"))
    story.sweep(running_stack, [merchant, seller, refused], shopify.state.total_count, 60)
    story.poll_suppliers(running_stack, cast, 60)
    assert live.supplier(merchant).status == "awaiting_shipment"

    # 1. The merchant cancels and refunds in Shopify's admin; AliExpress still awaits shipment.
    merchant_id, merchant_name = live.order(merchant)
    started = time.monotonic()
    story.merchant_cancels_in_shopify(running_stack, merchant)
    alert = live.wait("the one-sided cancellation alert", lambda: live.alerts(merchant_id), BEAT * 3)[0]
    assert alert.kind == "shopify_cancelled_supplier_live"
    assert merchant_name in alert.message
    assert "ask the seller to cancel" in alert.message
    live.wait("the webhook notification", lambda: any(merchant_name in d["body"]["text"] for d in http.delivered), BEAT)
    live.wait("the e-mail", lambda: any(merchant_name in m["Subject"] for m in smtp.messages), BEAT)
    assert time.monotonic() - started < BEAT * 3  # caught by the mirror's hook, within a beat cycle or so
    text = next(d["body"]["text"] for d in http.delivered if merchant_name in d["body"]["text"])
    assert f"dropsync supplier cancel-requested '{merchant_name}'" in text
    # The operator asks the seller (on AliExpress, then records it): the alert resolves.
    aliexpress.request_cancellation(cast.supplier_ids[merchant])
    with session_scope() as session:
        supplier.record_cancellation_requested(session, story._supplier_order(session, merchant), "operator:test")
    live.wait("the alert resolves", lambda: not live.alerts(merchant_id), BEAT * 2)

    # 2. The seller closes and refunds on AliExpress while the Shopify order is open and unrefunded.
    seller_id, seller_name = live.order(seller)
    aliexpress.force_status(cast.supplier_ids[seller], "FINISH", "cancel_order_close_trade")
    send_task("supplier.poll_one", live.supplier(seller).id)
    flagged = live.wait("the seller-side cancellation alert", lambda: live.alerts(seller_id), BEAT * 3)[0]
    assert flagged.kind == "supplier_cancelled_shopify_open"
    assert "cancel and refund the customer, or re-order elsewhere" in flagged.message

    # 3. Cancelled in Shopify; the seller refuses the cancellation before any poll saw IN_CANCEL.
    refused_id, refused_name = live.order(refused)
    story.merchant_cancels_in_shopify(running_stack, refused)
    live.wait("the refused order's first alert", lambda: live.alerts(refused_id), BEAT * 3)
    aliexpress.request_cancellation(cast.supplier_ids[refused])
    with session_scope() as session:
        supplier.record_cancellation_requested(session, story._supplier_order(session, refused), "operator:test")
    aliexpress.seller_refuses_cancellation(cast.supplier_ids[refused])
    aliexpress.clock.advance(days=3)  # the seller's 48 h are over, for AliExpress and for dropsync alike
    time.sleep(1.5)  # dropsync re-reads the shared clock at most once a second
    send_task("supplier.poll_one", live.supplier(refused).id)
    live.wait("the refusal is recognised", lambda: live.supplier(refused).cancel_refused_at is not None, BEAT * 3)
    advice = live.wait(
        "the refusal advice", lambda: [a for a in live.alerts(refused_id) if "refused" in a.message], BEAT * 3
    )
    assert "open a dispute" in advice[0].message
    live.wait("the refusal is notified", lambda: any("refused" in d["body"]["text"] for d in http.delivered), BEAT)

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
    live.wait("the refusal alert resolves", lambda: not live.alerts(refused_id), BEAT * 3)
