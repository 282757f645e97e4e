"""The other cross-check rules, played live: both sandboxes and the real stack, one stack for them all.

The merchant, the fulfillment service and the AliExpress seller act through the sandboxes' control APIs;
the operator runs the command each alert advises (``dropsync supplier link``, ``dropsync dispute open``,
``dropsync supplier refund-received``) as a process. For each rule: the alert names the order and the
action, ``dropsync check --json`` lists it (exit 1), the operator's webhook gets it, and it resolves once
the two sides agree again (``check`` no longer lists it; exit 0 once nothing is left).

- the seller ships goods for an order the merchant cancelled in Shopify → recover them (dispute/return);
- Shopify fulfilled with no AliExpress order linked; paid with none linked after the setting's hours (the
  shared sandbox clock moves on) → link the supplier order;
- the carrier delivered while Shopify still shows it unfulfilled → the fulfillment is created in Shopify;
- AliExpress charged more than the order sold for → the seller's refund of the difference is recorded.
"""

from __future__ import annotations

import shlex
from decimal import Decimal

import pytest

from models import Alert
from sandboxes.aliexpress import AliExpressSandbox
from sandboxes.demo import story
from sandboxes.shopify import ShopifySandbox
from tests.cli.support import dropsync
from tests.support import live_stack as live
from tests.support.live_stack import BEAT, LiveStack
from tests.support.receivers import HttpReceiver
from worker.stack import send_task

pytestmark = [pytest.mark.slow, pytest.mark.redis]
SEED_ORDERS = 0  # only this story's orders: once each alert is resolved, nothing needs a person
COST = "4.00"  # what the store pays AliExpress for one item (every sandbox order sells for more)
OVERCHARGE = Decimal("6.50")


def _caught(http: HttpReceiver, gid: str, rule: str, action: str) -> dict[str, str]:
    """The rule's alert on ``gid``: raised naming the order and ``action``, notified, listed by ``check``."""
    order_id, name = live.order(gid)

    def raised() -> list[Alert]:
        return [a for a in live.alerts(order_id) if a.kind == rule]

    alert = live.wait(f"the {rule} alert on {name}", raised, BEAT * 3)[0]
    assert name in alert.message, alert.message
    assert action in alert.message, alert.message
    text = live.wait(f"the {rule} notification", lambda: live.notified(http, name, action), BEAT * 2)
    assert alert.command is not None
    assert alert.command in text, text
    code, items = live.check_items()
    assert code == 1
    listed = [i for i in items if i["order"] == name and i["kind"] == rule]
    assert len(listed) == 1, items
    assert listed[0]["command"] == alert.command
    return listed[0]


def _listed(item: dict[str, str]) -> bool:
    _, items = live.check_items()
    return any(i["order"] == item["order"] and i["kind"] == item["kind"] for i in items)


def _resolved(gid: str, item: dict[str, str]) -> None:
    """The alert behind ``item`` resolves."""
    order_id, rule = live.order(gid)[0], item["kind"]
    live.wait(f"the {rule} alert on {item['order']} resolves",
              lambda: not any(a.kind == rule for a in live.alerts(order_id)), BEAT * 3)  # fmt: skip


def _operator_clears(item: dict[str, str], command: str, **placeholders: str) -> None:
    """The operator runs ``command`` (placeholders filled in) as a process; ``check`` stops listing ``item`` at
    once (it reads the ledger; the alert itself resolves on the next cross-check run)."""
    for placeholder, value in placeholders.items():
        command = command.replace(placeholder, value)
    args = shlex.split(command)
    assert args[0] == "dropsync", command
    run = dropsync(*args[1:])
    assert run.code == 0, (command, run.out, run.err)
    assert not _listed(item)


def _shipped_and_delivered(aliexpress: AliExpressSandbox, tracking: str) -> str:
    order = aliexpress.paid_order(COST)
    aliexpress.ship(order, tracking)
    aliexpress.deliver(order)
    return order


def _overcharged(shopify: ShopifySandbox, aliexpress: AliExpressSandbox, cast: story.Cast) -> str:
    """A paid order; the AliExpress order placed for it (and noted on it, as DSers does) costs more than it sold for."""
    gid = shopify.control.create_order(status="paid", line_items=1)
    sold = Decimal(shopify.control.snapshot(gid)["total_price"])
    cast.supplier_ids[gid] = aliexpress.paid_order(str(sold + OVERCHARGE))
    shopify.control.fulfillment(gid, "link_supplier", supplier_order_id=cast.supplier_ids[gid])
    return gid


def test_each_rule_is_caught_notified_and_resolved(stack: LiveStack) -> None:
    running_stack, http, _ = stack
    shopify, aliexpress = live.sandboxes(running_stack)
    cast = story.Cast()
    cancelled = story._with_supplier(shopify, aliexpress, cast, aliexpress.paid_order(COST))
    # The fulfillment service (DSers) accepted the request; AliExpress's carrier delivers before it fulfils.
    parcel = _shipped_and_delivered(aliexpress, "LP00LIVE0001CN")
    delivered = story._with_supplier(shopify, aliexpress, cast, parcel, status="accepted")
    overpaid = _overcharged(shopify, aliexpress, cast)
    fulfilled = shopify.control.create_order(status="paid", line_items=1)  # no AliExpress order noted on it
    for step in ("submit", "accept", "fulfill"):  # requested from the fulfillment service, which ships it
        shopify.control.fulfillment(fulfilled, step)
    unlinked = shopify.control.create_order(status="paid", line_items=1)
    gids = [cancelled, delivered, overpaid, fulfilled, unlinked]
    story.sweep(running_stack, gids, shopify.state.total_count, 60)
    story.poll_suppliers(running_stack, cast, 60)

    # The carrier delivered; Shopify still shows the order unfulfilled. The fulfillment is created in Shopify.
    item = _caught(http, delivered, "supplier_delivered_shopify_unfulfilled", "mark it fulfilled")
    shopify.control.fulfillment(delivered, "fulfill", tracking_number="LP00LIVE0001CN")
    _resolved(delivered, item)  # the fulfillment's webhook: the mirror's hook resolves it
    assert not _listed(item)

    # AliExpress charged more than the order sold for; the seller refunds the difference, the operator records it.
    item = _caught(http, overpaid, "amounts_disagree", "check the supplier order's price and quantities")
    assert f"loses {OVERCHARGE:.2f}" in item["message"]
    refund = f"dropsync supplier refund-received {cast.supplier_ids[overpaid]} {OVERCHARGE} --reference R-LIVE-1"
    _operator_clears(item, refund)
    _resolved(overpaid, item)

    # The merchant cancels in Shopify's admin; the seller ships anyway. Recover the goods: dispute or return.
    story.merchant_cancels_in_shopify(running_stack, cancelled)
    cancelled_id, _ = live.order(cancelled)
    live.wait("the cancel-the-supplier alert", lambda: live.alerts(cancelled_id), BEAT * 3)
    aliexpress.ship(cast.supplier_ids[cancelled], "LP00LIVE0002CN")
    send_task("supplier.poll_one", live.supplier(cancelled).id)
    item = _caught(http, cancelled, "supplier_shipped_shopify_cancelled", "open a dispute")
    assert "return" in item["message"]
    assert item["command"].startswith("dropsync dispute open")
    assert [a.kind for a in live.alerts(cancelled_id)] == ["supplier_shipped_shopify_cancelled"]  # no "cancel it"
    aliexpress.open_dispute(cast.supplier_ids[cancelled], "returned_to_seller")
    _operator_clears(item, item["command"])
    _resolved(cancelled, item)

    # Fulfilled in Shopify, no AliExpress order linked: the operator links the one that shipped it.
    item = _caught(http, fulfilled, "fulfilled_without_supplier", "no AliExpress order is linked")
    shipped_it = _shipped_and_delivered(aliexpress, "LP00LIVE0003CN")
    _operator_clears(item, item["command"], ALIEXPRESS_ORDER_NUMBER=shipped_it)
    _resolved(fulfilled, item)

    # Paid, no AliExpress order linked: nothing yet; two days on (the shared clock), it is flagged.
    unlinked_id, _ = live.order(unlinked)
    assert not live.alerts(unlinked_id)
    aliexpress.clock.advance(hours=49)  # DROPSYNC_CROSSCHECK_UNLINKED_HOURS is 48, for dropsync too
    item = _caught(http, unlinked, "paid_without_supplier", "place the supplier order and link it")
    _operator_clears(item, item["command"], ALIEXPRESS_ORDER_NUMBER=aliexpress.paid_order(COST))
    _resolved(unlinked, item)

    code, items = live.check_items()
    assert (code, items) == (0, []), items
