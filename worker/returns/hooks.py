"""How the returns workflow hears about Shopify: the ``returns/*`` webhooks and refunds.

Wired in ``worker.wiring`` (the one table of who reacts to what): every handler runs inside the inbox
drain's transaction, flushes only and enqueues through the outbox.

- ``returns/request|approve|decline|cancel|close|process|update|reopen`` → the delivery is noted on the
  order's timeline and ``returns.sync`` reads the return from Shopify (the webhook body is only a
  pointer: the GraphQL read is the one parser of a return) and mirrors it: a new REQUESTED return is
  decided by the policy and approved or declined; a known one follows Shopify's status;
- ``refunds/create`` whose note carries a ``return_process`` intent's key closes that intent (the
  cancellation workflow's hook does) and this one carries its return forward.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import IntentState, Order, ReturnCase, ShopifyIntent, WebhookDelivery
from worker import outbox
from worker.cancellation.intents import IntentKind
from worker.returns import service
from worker.returns import states as rs
from worker.timeline import record_event


def return_gid(payload: dict[str, object]) -> str | None:
    gid = payload.get("admin_graphql_api_id")
    if isinstance(gid, str) and gid.startswith("gid://shopify/Return/"):
        return gid
    raw = payload.get("id")
    return f"gid://shopify/Return/{raw}" if raw not in (None, "") else None


def _order_gid(payload: dict[str, object]) -> str | None:
    order = payload.get("order")
    if isinstance(order, dict) and order.get("admin_graphql_api_id"):
        return str(order["admin_graphql_api_id"])
    raw = order.get("id") if isinstance(order, dict) else payload.get("order_id")
    return f"gid://shopify/Order/{raw}" if raw not in (None, "") else None


def return_changed(session: Session, delivery: WebhookDelivery) -> None:
    gid = return_gid(delivery.payload)
    if gid is None:
        return
    order_gid = _order_gid(delivery.payload)
    order_id = (
        session.scalar(select(Order.id).where(Order.shop_id == delivery.shop_id, Order.shopify_gid == order_gid))
        if order_gid
        else None
    )
    if order_id is not None:
        record_event(
            session, shop_id=delivery.shop_id, order_id=order_id, kind="return.webhook", actor="shopify:webhook",
            message=f"Shopify {delivery.topic}: return {gid} ({delivery.payload.get('status') or '?'})",
            data={"return_gid": gid, "topic": delivery.topic},
        )  # fmt: skip
    outbox.enqueue(session, service.SYNC_TASK, [delivery.shop_id, gid], dedupe_key=f"returns.sync:{delivery.id}")


def refund_closed_a_return_intent(session: Session, delivery: WebhookDelivery) -> None:
    note = str(delivery.payload.get("note") or "")
    if f"[dropsync-{IntentKind.RETURN_PROCESS}-" not in note:
        return
    key = note[note.index("[dropsync-") + 1 :].split("]", 1)[0]
    intent = session.scalar(select(ShopifyIntent).where(ShopifyIntent.idempotency_key == key))
    if intent is None or intent.return_id is None or intent.state != IntentState.SUCCEEDED:
        return
    case = session.get(ReturnCase, intent.return_id)
    if case is not None and case.state == rs.SHOPIFY_ACTION:
        service.enqueue_advance(session, case, tag=f"refund:{delivery.id}")
