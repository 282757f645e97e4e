"""The scripted story ``dropsync demo`` plays against a running stack.

The script plays the merchant, the customer and the AliExpress seller through the sandboxes' control
APIs, and the operator through the same service functions the CLI calls (actor ``operator:demo``).
Everything dropsync itself does (mirroring webhooks, the sweep, polling AliExpress, cancelling and
refunding on Shopify, raising alerts) is done by the real worker, beat and receiver processes; the script
only publishes the periodic tasks early instead of waiting minutes for beat (what an operator's
``dropsync sync reconcile`` or ``dropsync supplier poll`` would trigger).

Each wait names its step: a step that does not converge within the step timeout raises ``StepTimeout``
(``dropsync demo`` exits 1 with that line).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import Alert, CancellationRequest, Order, ReturnCase, SupplierOrder, WebhookDelivery
from models.types import utcnow
from sandboxes.aliexpress import AliExpressSandbox
from sandboxes.demo.receiver import NotificationInbox
from sandboxes.shopify import ShopifySandbox
from worker.cancellation import service as cancellation
from worker.cancellation.states import TERMINAL
from worker.db import session_scope
from worker.policy.decision import Decision
from worker.returns import service as returns
from worker.returns.evidence import parse_evidence
from worker.stack import Stack, StackError, send_task
from worker.supplier import disputes
from worker.supplier import service as supplier

ACTOR = "operator:demo"
T = TypeVar("T")


class StepTimeout(StackError):
    """A step of the story did not converge in time."""


@dataclass
class Cast:
    """The orders that play a part, by Shopify GID, and the AliExpress orders behind them."""

    new_orders: list[str] = field(default_factory=list)
    cancel_before_shipment: str = ""
    after_fulfillment: str = ""
    refused_by_policy: str = ""
    supplier_shipped: str = ""
    protection: str = ""
    one_sided: str = ""
    supplier_ids: dict[str, str] = field(default_factory=dict)  # Shopify gid → AliExpress order number


def wait_for(what: str, probe: Callable[[], T | None], stack: Stack, timeout: float) -> T:
    """Poll ``probe`` until it returns something truthy; ``StepTimeout`` names the step otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        stack.check_alive()
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise StepTimeout(f"step '{what}' did not converge within {timeout:.0f} s (logs: {stack.log_hint()})")
        time.sleep(0.3)


def _ledger_count() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def _ledger_has(gids: list[str]) -> bool:
    with session_scope() as session:
        found = session.scalar(select(func.count()).select_from(Order).where(Order.shopify_gid.in_(gids)))
    return found == len(gids)


def _inbox_idle() -> bool:
    with session_scope() as session:
        pending = session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.handled_at.is_(None))
        )
    return pending == 0


def sweep(stack: Stack, expected_gids: list[str] | None, expected_total: int, timeout: float) -> None:
    """Publish the reconciliation sweep and wait until the ledger holds every expected order."""
    send_task("mirror.reconcile_all")
    wait_for("the sweep mirrors every order", lambda: _ledger_count() >= expected_total and (
        expected_gids is None or _ledger_has(expected_gids)), stack, timeout)  # fmt: skip


def create_orders(stack: Stack, count: int) -> Cast:
    """New orders on the shop while 35 % of webhooks are lost; the four that play a part come first."""
    shopify, aliexpress = _sandboxes(stack)
    cast = Cast()
    shopify.control.set_faults(webhook_drop_rate=0.35)
    cast.cancel_before_shipment = _with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("14.20"))
    # Shipped and delivered on both sides: the customer changed their mind afterwards.
    delivered = aliexpress.paid_order("21.30")
    aliexpress.ship(delivered, "LP00DEMO0003CN")
    aliexpress.deliver(delivered)
    cast.refused_by_policy = _with_supplier(shopify, aliexpress, cast, delivered, status="fulfilled")
    cast.supplier_shipped = _with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("9.80"))
    # This seller's buyer protection is 3 days (DROPSYNC_PROTECTION_WARNING_DAYS is 5): it ships now.
    protected = aliexpress.paid_order("11.50", protection_days=3)
    aliexpress.ship(protected, "LP00DEMO0001CN")
    cast.protection = _with_supplier(shopify, aliexpress, cast, protected)
    # Paid on AliExpress, awaiting shipment: the merchant will cancel it in Shopify's admin, not through dropsync.
    cast.one_sided = _with_supplier(shopify, aliexpress, cast, aliexpress.paid_order("12.40"))
    plain = [shopify.control.create_order(status="paid", line_items=1 + i % 3) for i in range(max(count - 5, 0))]
    cast.new_orders = [cast.cancel_before_shipment, cast.refused_by_policy, cast.supplier_shipped, cast.protection,
                       cast.one_sided, *plain]  # fmt: skip
    if not shopify.control.wait_for_webhooks(timeout=30):
        raise StepTimeout("step 'Shopify delivers the webhooks' did not finish within 30 s")
    shopify.control.clear_faults()
    wait_for("the worker applies every delivered webhook", _inbox_idle, stack, 30)
    return cast


def _with_supplier(
    shopify: ShopifySandbox, aliexpress: AliExpressSandbox, cast: Cast, supplier_id: str, status: str = "paid"
) -> str:
    gid = shopify.control.create_order(status=status, line_items=1, aliexpress_order_id=supplier_id)
    cast.supplier_ids[gid] = supplier_id
    return gid


def _sandboxes(stack: Stack) -> tuple[ShopifySandbox, AliExpressSandbox]:
    if stack.shopify is None or stack.aliexpress is None:
        raise StackError("the demo needs the sandboxes (unset SHOPIFY_ACCESS_TOKEN)")
    return stack.shopify, stack.aliexpress


def _supplier_order(session: Session, shopify_gid: str) -> SupplierOrder:
    order = session.scalars(select(Order).where(Order.shopify_gid == shopify_gid)).one()
    return session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).one()


def poll_suppliers(stack: Stack, cast: Cast, timeout: float) -> None:
    """The worker polls AliExpress for the three linked supplier orders (linked by the mirror)."""

    def polled() -> bool:
        with session_scope() as session:
            rows = session.scalars(select(SupplierOrder).where(SupplierOrder.supplier_order_id.in_(
                list(cast.supplier_ids.values())))).all()  # fmt: skip
            return len(rows) == len(cast.supplier_ids) and all(r.last_polled_at is not None for r in rows)

    def settled() -> bool:  # the seller that never shipped: the poller saw AliExpress close the order
        with session_scope() as session:
            so = _supplier_order(session, cast.after_fulfillment)
            return so.status == "closed_cancelled"

    wait_for("the mirror links the AliExpress orders", lambda: _linked(cast), stack, timeout)
    send_task("supplier.poll_due")
    wait_for("the worker polls AliExpress", polled, stack, timeout)
    if cast.after_fulfillment:
        wait_for("the worker sees the unshipped order closed", settled, stack, timeout)


def _linked(cast: Cast) -> bool:
    with session_scope() as session:
        wanted = SupplierOrder.supplier_order_id.in_(list(cast.supplier_ids.values()))
        linked = select(func.count()).select_from(SupplierOrder).where(wanted, SupplierOrder.order_id.is_not(None))
        count = session.scalar(linked)
    return count == len(cast.supplier_ids)


def request_cancellation(shopify_gid: str, reason: str) -> int:
    """The operator's ``dropsync cancel request``: the policy decides first (same service function)."""
    with session_scope() as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == shopify_gid)).one()
        return cancellation.create_request(session, order, reason=reason, actor=ACTOR).id


def request_state(request_id: int, wanted: str) -> bool:
    """Whether the request reached ``wanted``; a different final state fails the step at once."""
    with session_scope() as session:
        request = session.get_one(CancellationRequest, request_id)
        decision = Decision.stored(request.policy_decision)
        state, reasons = request.state, decision.reasons if decision else ()
    if state == wanted:
        return True
    if state in TERMINAL or state == "needs_operator":
        raise StackError(f"request {request_id} ended {state}, not {wanted}: {'; '.join(reasons)}")
    return False


def _poll_one(shopify_gid: str) -> None:
    with session_scope() as session:
        so_id = _supplier_order(session, shopify_gid).id
    send_task("supplier.poll_one", so_id)


def ask_seller_to_cancel(stack: Stack, shopify_gid: str, supplier_id: str) -> None:
    """The operator asks on AliExpress (the sandbox) and records it (``dropsync supplier cancel-requested``)."""
    _, aliexpress = _sandboxes(stack)
    aliexpress.request_cancellation(supplier_id)
    with session_scope() as session:
        supplier.record_cancellation_requested(session, _supplier_order(session, shopify_gid), ACTOR)


def cancel_before_shipment(stack: Stack, cast: Cast, timeout: float) -> int:
    """Seller accepts → the poller sees the order closed cancelled → Shopify order cancelled and refunded."""
    gid = cast.cancel_before_shipment
    request_id = request_cancellation(gid, "changed_mind")
    ask_seller_to_cancel(stack, gid, cast.supplier_ids[gid])
    _sandboxes(stack)[1].seller_accepts_cancellation(cast.supplier_ids[gid])
    _poll_one(gid)
    wait_for("supplier confirms → Shopify cancels", lambda: request_state(request_id, "done"), stack, timeout)
    return request_id


def choose_unshipped_fulfilled_order(stack: Stack, cast: Cast, timeout: float) -> None:
    """Cast a seeded order fulfilled over 30 days ago whose AliExpress seller never shipped.

    AliExpress closes such an order after the handling time (``FINISH`` / ``seller_send_goods_timeout``,
    the store's money comes back); the customer, of course, never received anything.
    """
    _, aliexpress = _sandboxes(stack)

    def pick() -> tuple[str, str] | None:
        with session_scope() as session:
            found = _old_fulfilled_order(session)
            return (found[0].shopify_gid, found[1].supplier_order_id) if found else None

    gid, supplier_id = wait_for("an old fulfilled order linked to AliExpress", pick, stack, timeout)
    aliexpress.world.order_result(supplier_id)  # adopts the number if the worker has not asked about it yet
    aliexpress.force_status(supplier_id, "FINISH", "seller_send_goods_timeout")
    cast.after_fulfillment, cast.supplier_ids[gid] = gid, supplier_id
    _poll_one(gid)  # it may have been polled (awaiting shipment) before AliExpress closed it


def _old_fulfilled_order(session: Session) -> tuple[Order, SupplierOrder] | None:
    """A fulfilled, paid, open order over 30 days old with exactly one linked supplier order."""
    query = select(Order).where(
        Order.display_fulfillment_status == "FULFILLED", Order.display_financial_status == "PAID",
        Order.cancelled_at.is_(None), Order.shopify_created_at < utcnow() - dt.timedelta(days=31),
    )  # fmt: skip
    for order in session.scalars(query.order_by(Order.shopify_created_at)):
        linked = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).all()
        if len(linked) == 1:
            return order, linked[0]
    return None


def refund_after_fulfillment(stack: Stack, cast: Cast, timeout: float) -> int:
    """The fulfilled order that never arrived: Shopify can only refund it now.

    The built-in policy accepts "not received" after 30 days but wants tracking evidence, so it escalates;
    the operator approves (``dropsync cancel approve``); the supplier order is closed cancelled, so the
    worker refunds the items on Shopify.
    """
    with session_scope() as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == cast.after_fulfillment)).one()
        request = cancellation.create_request(session, order, reason="not_received", actor=ACTOR)
        if request.state == "needs_approval":
            cancellation.approve(session, request, ACTOR)
        request_id = request.id
    wait_for("items refunded on Shopify", lambda: request_state(request_id, "done"), stack, timeout)
    return request_id


def refused_by_policy(cast: Cast) -> int:
    """Changed mind after the goods shipped: the default policy does not take it back."""
    return request_cancellation(cast.refused_by_policy, "changed_mind")


def supplier_shipped(stack: Stack, cast: Cast, timeout: float) -> int:
    """The seller refuses and ships: no cancellation any more, the request becomes a return."""
    gid = cast.supplier_shipped
    supplier_id = cast.supplier_ids[gid]
    request_id = request_cancellation(gid, "changed_mind")
    ask_seller_to_cancel(stack, gid, supplier_id)
    _, aliexpress = _sandboxes(stack)
    aliexpress.seller_refuses_cancellation(supplier_id)
    aliexpress.ship(supplier_id, "LP00DEMO0002CN")
    _poll_one(gid)
    wait_for("the seller shipped → a return", lambda: request_state(request_id, "converted_to_return"), stack,
             timeout)  # fmt: skip
    return request_id


def protection_alert(stack: Stack, cast: Cast, timeout: float) -> None:
    """The deadlines task raises the buyer-protection alert for the shipped order nearing its end."""

    def raised() -> bool:
        with session_scope() as session:
            order_id = session.scalars(select(Order.id).where(Order.shopify_gid == cast.protection)).one()
            return (
                session.scalar(select(Alert.id).where(Alert.order_id == order_id, Alert.kind.like("protection%")))
                is not None
            )

    send_task("deadlines.raise_alerts")
    wait_for("the buyer-protection alert", raised, stack, timeout)


# -- after delivery: returns ------------------------------------------------------------------------------


@dataclass
class ReturnsCast:
    """The two orders of the returns part of the story (Shopify GIDs) and the damaged one's AliExpress order."""

    damaged: str = ""
    damaged_supplier: str = ""
    self_serve: str = ""


def delivered_orders(stack: Stack, cast: Cast, timeout: float) -> ReturnsCast:
    """Two fulfilled two-item orders whose AliExpress parcels the carrier reports delivered (not yet
    confirmed by the buyer): the worker polls them and sees ``delivered`` from the logistics status."""
    shopify, aliexpress = _sandboxes(stack)
    parts = ReturnsCast()
    for role in ("damaged", "self_serve"):
        ae = aliexpress.paid_order("60.00")
        aliexpress.ship(ae, f"LP00DEMO{len(cast.supplier_ids):04d}CN")
        aliexpress.deliver(ae)
        gid = shopify.control.create_order(status="fulfilled", line_items=2, aliexpress_order_id=ae)
        cast.supplier_ids[gid] = ae
        setattr(parts, role, gid)
    parts.damaged_supplier = cast.supplier_ids[parts.damaged]
    wanted = [parts.damaged, parts.self_serve]
    wait_for("the delivered orders are mirrored", lambda: _ledger_has(wanted), stack, timeout)
    wait_for("the mirror links their AliExpress orders", lambda: _linked(cast), stack, timeout)
    for gid in wanted:
        _poll_one(gid)
    wait_for("the worker sees the carrier's delivery", lambda: all(_supplier_status(g) == "delivered" for g in wanted),
             stack, timeout)  # fmt: skip
    return parts


def _supplier_status(gid: str) -> str | None:
    with session_scope() as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == gid)).first()
        if order is None:
            return None
        so = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).first()
        return so.status if so else None


def _return_state(gid: str) -> str | None:
    with session_scope() as session:
        found = session.scalars(
            select(ReturnCase.state).join(Order, Order.id == ReturnCase.order_id).where(Order.shopify_gid == gid)
        ).first()
    if found == "needs_operator":
        raise StackError(f"the return on {gid} was handed to a person")
    return found


def damaged_item_return(stack: Stack, parts: ReturnsCast, timeout: float) -> int:
    """The customer sent photos of one damaged item and keeps it: the operator's ``dropsync returns request
    --reason damaged --items LINE:1 --evidence photos --keep-item``; the worker creates the return on Shopify,
    refunds that line (returnProcess) and closes it. Then the store disputes with the seller after receipt,
    and the seller's partial refund is recorded: nothing left to recover on that order."""
    _, aliexpress = _sandboxes(stack)
    with session_scope() as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == parts.damaged)).one()
        line = sorted(order.line_items, key=lambda li: li.id)[0]
        case = returns.request_return(
            session, order, reason="damaged", items={str(line.id): 1}, actor=ACTOR, keep_item=True,
            evidence=parse_evidence("photos=damaged-lamp.jpg"), note="arrived cracked; photos by email",
        )  # fmt: skip
        return_id = case.id
    wait_for("the damaged line refunded on Shopify", lambda: _return_state(parts.damaged) == "done", stack, timeout)
    supplier_id = parts.damaged_supplier
    aliexpress.confirm_receipt(supplier_id)
    _poll_one(parts.damaged)
    wait_for("AliExpress order completed", lambda: _supplier_status(parts.damaged) == "closed_completed", stack,
             timeout)  # fmt: skip
    aliexpress.open_dispute(supplier_id, "damaged")
    with session_scope() as session:
        so = _supplier_order(session, parts.damaged)
        refunded = session.get_one(ReturnCase, return_id).refund_total
        dispute = disputes.open_dispute(session, so, "damaged", ACTOR, notes="photos of the cracked item")
        disputes.add_evidence(session, dispute, "photo", "damaged-lamp.jpg", ACTOR)
        back = min(refunded, so.amount_paid)
        aliexpress.resolve_dispute(supplier_id, outcome="partial_refund", amount=str(back))
        disputes.resolve_dispute(session, dispute, "partly_refunded", ACTOR, refund_amount=back)
    return return_id


def self_serve_return_declined(stack: Stack, parts: ReturnsCast, timeout: float) -> int:
    """The customer asks in Shopify's portal to return an item they no longer want (``returnRequest``);
    the returns/request webhook reaches dropsync, the policy does not take "changed mind" back, and the
    worker declines it on Shopify with the policy's reason as the note."""
    shopify, _ = _sandboxes(stack)
    with session_scope() as session:
        order = session.scalars(select(Order).where(Order.shopify_gid == parts.self_serve)).one()
        line_gid = sorted(order.line_items, key=lambda li: li.id)[0].shopify_gid
    shopify.control.return_request(parts.self_serve, [{"line_item_id": line_gid, "quantity": 1, "reason": "UNWANTED",
                                                       "customer_note": "not my style after all"}])  # fmt: skip
    wait_for("the self-serve request declined", lambda: _return_state(parts.self_serve) == "declined", stack, timeout)
    with session_scope() as session:
        order_id = session.scalars(select(Order.id).where(Order.shopify_gid == parts.self_serve)).one()
        return int(session.scalars(select(ReturnCase.id).where(ReturnCase.order_id == order_id)).one())


def merchant_cancels_in_shopify(stack: Stack, shopify_gid: str) -> None:
    """The merchant cancels and refunds the order in Shopify's admin (its own API call, not dropsync's)."""
    shopify, _ = _sandboxes(stack)
    variables = {
        "orderId": shopify_gid, "reason": "CUSTOMER", "restock": True, "notifyCustomer": False,
        "staffNote": "cancelled in the Shopify admin", "refundMethod": {"originalPaymentMethodsRefund": True},
    }  # fmt: skip
    with ShopifyClient(shopify.config.shop_domain, shopify.config.access_token, api_url=shopify.base_url) as client:
        payload = client.execute("OrderCancel", variables)["orderCancel"]
        if payload["orderCancelUserErrors"]:
            raise StackError(f"the merchant's orderCancel failed: {payload['orderCancelUserErrors']}")
        job = payload.get("job") or {}
        if job.get("id") and not job.get("done"):
            client.wait_for_job(job["id"])


def one_sided_cancellation(stack: Stack, cast: Cast, inbox: NotificationInbox, timeout: float) -> dict[str, Any]:
    """The merchant cancels in Shopify while AliExpress awaits shipment: dropsync flags it (the mirror's
    webhook → the cross-check → an alert) and the operator's channel gets the notification."""
    gid = cast.one_sided
    merchant_cancels_in_shopify(stack, gid)

    def caught() -> dict[str, Any] | None:
        with session_scope() as session:
            order = session.scalars(select(Order).where(Order.shopify_gid == gid)).one()
            alert = session.scalars(select(Alert).where(
                Alert.order_id == order.id, Alert.kind == "shopify_cancelled_supplier_live",
                Alert.resolved_at.is_(None))).first()  # fmt: skip
            if alert is None:
                return None
            return {"order": order.name, "alert": alert.message, "command": alert.command,
                    "raised_at": alert.raised_at.isoformat()}  # fmt: skip

    found = wait_for("dropsync catches the one-sided cancellation", caught, stack, timeout)
    note = wait_for("the operator's channel gets the alert", lambda: inbox.containing(found["order"]), stack, timeout)
    return {**found, "notification": note["text"], "notification_url": inbox.url}
