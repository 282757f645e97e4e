"""The demo's summary, read back from the ledger and the sandboxes (never from the script's own notes).

The script only knows which Shopify GIDs played which part; every count, state and amount below is
queried: orders and requests and money from the ledger, what Shopify holds and which mutations it
applied from the Shopify sandbox's control API, the supplier order from the AliExpress sandbox.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Alert, CancellationRequest, Dispute, LedgerEntry, Order, ReturnCase, SupplierOrder, WebhookDelivery
from sandboxes.demo.story import Cast
from worker.cancellation.exposure import exposures, totals
from worker.db import session_scope
from worker.mirror.topics import ORDER_TOPICS
from worker.money import round_money
from worker.policy.decision import Decision
from worker.stack import Stack


def build_summary(
    stack: Stack, cast: Cast, requests: dict[str, int], seconds: float, returns: dict[str, int] | None = None
) -> dict[str, Any]:
    """Everything ``dropsync demo`` reports, as plain JSON-able data."""
    assert stack.shopify is not None
    assert stack.aliexpress is not None
    with session_scope() as session:
        summary: dict[str, Any] = {
            "workspace": str(stack.options.workdir),
            "seconds": round(seconds, 1),
            "orders": _orders(session, stack, cast),
            "cases": {role: _case(session, stack, cast, role, rid) for role, rid in requests.items()},
            "returns": {role: _return(session, stack, rid) for role, rid in (returns or {}).items()},
            "protection_alert": _alert(session, cast.protection),
            "exposure": _exposure(session),
        }
    return summary


def _orders(session: Session, stack: Stack, cast: Cast) -> dict[str, Any]:
    assert stack.shopify is not None
    received = _gids_with_webhook(session)
    new = set(cast.new_orders)
    in_ledger = set(session.scalars(select(Order.shopify_gid)))
    dropped = {
        str(a["payload"].get("admin_graphql_api_id")) for a in stack.shopify.control.deliveries()
        if a["outcome"] == "dropped" and a["topic"] in ORDER_TOPICS
    }  # fmt: skip
    return {
        "in_shopify": stack.shopify.state.total_count,
        "in_ledger": len(in_ledger),
        "seeded_before_start": stack.options.seed_orders,
        "created_during_demo": stack.shopify.state.total_count - stack.options.seed_orders,
        "placed_while_webhooks_lost": len(new),
        "mirrored_from_webhooks": len(new & received),
        "webhooks_dropped": sum(1 for a in stack.shopify.control.deliveries() if a["outcome"] == "dropped"),
        "orders_with_lost_webhooks": len(new & dropped),
        "found_only_by_the_sweep": len((new - received) & in_ledger),
    }


def _gids_with_webhook(session: Session) -> set[str]:
    """Orders the receiver heard about at least once (order topics in the ledger's inbox)."""
    found: set[str] = set()
    for body in session.scalars(select(WebhookDelivery.body).where(WebhookDelivery.topic.in_(ORDER_TOPICS))):
        gid = json.loads(body).get("admin_graphql_api_id")
        if gid:
            found.add(str(gid))
    return found


def _case(session: Session, stack: Stack, cast: Cast, role: str, request_id: int) -> dict[str, Any]:
    assert stack.shopify is not None
    assert stack.aliexpress is not None
    request = session.get_one(CancellationRequest, request_id)
    order = session.get_one(Order, request.order_id)
    shopify = stack.shopify.control.snapshot(order.shopify_gid)
    refunded = session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.order_id == order.id, LedgerEntry.kind == "customer_refund"))  # fmt: skip
    decision = Decision.stored(request.policy_decision)
    case: dict[str, Any] = {
        "order": order.name, "reason": request.reason, "kind": request.kind, "state": request.state,
        "policy": decision and decision.action.value, "policy_reasons": list(decision.reasons) if decision else [],
        "history": [h["to"] for h in request.state_history],
        "shopify": {"cancelled": shopify["cancelled_at"] is not None, "financial_status": shopify["financial_status"],
                    "fulfillment_status": shopify["fulfillment_status"], "total_refunded": shopify["total_refunded"],
                    "mutations_applied": stack.shopify.control.applied_counts(order.shopify_gid)},
        "ledger": {"cancelled": order.cancelled_at is not None, "financial_status": order.display_financial_status,
                   "customer_refunds": str(round_money(Decimal(refunded or 0), order.currency))},
    }  # fmt: skip
    so = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).first()
    if so is not None:
        remote = stack.aliexpress.order(so.supplier_order_id)
        case["supplier"] = {"order": so.supplier_order_id, "ledger_status": so.status,
                            "aliexpress_status": remote.order_status, "end_reason": remote.end_reason,
                            "tracking": so.tracking_numbers}  # fmt: skip
    follow_up = session.scalars(select(ReturnCase).where(ReturnCase.cancellation_request_id == request.id)).first()
    if follow_up is not None:  # too late to cancel: the wish decided again as a return
        decided = Decision.stored(follow_up.policy_decision)
        case["became_return"] = {"id": follow_up.id, "state": follow_up.state,
                                 "policy": decided and decided.action.value,
                                 "policy_reasons": list(decided.reasons) if decided else []}  # fmt: skip
    return case


def _return(session: Session, stack: Stack, return_id: int) -> dict[str, Any]:
    """A return as the ledger and the Shopify sandbox show it, with the supplier's dispute and exposure."""
    assert stack.shopify is not None
    case = session.get_one(ReturnCase, return_id)
    order = session.get_one(Order, case.order_id)
    refunded = session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.order_id == order.id, LedgerEntry.kind == "customer_refund"))  # fmt: skip
    on_shopify = stack.shopify.control.return_snapshot(case.shopify_gid) if case.shopify_gid else {}
    counts = stack.shopify.control.return_mutation_counts(case.shopify_gid) if case.shopify_gid else {}
    decision = Decision.stored(case.policy_decision)
    out: dict[str, Any] = {
        "order": order.name, "source": case.source, "reason": case.reason, "shopify_reason": case.shopify_reason,
        "state": case.state, "keep_item": case.keep_item, "policy": decision and decision.action.value,
        "policy_reasons": list(decision.reasons) if decision else [], "history": [h["to"] for h in case.state_history],
        "refunded_by_return": str(case.refund_total),
        "lines": [(line.line_item_id, line.quantity) for line in case.lines],
        "shopify": {"status": on_shopify.get("status"), "decline": on_shopify.get("decline"),
                    "order_total_refunded": stack.shopify.control.snapshot(order.shopify_gid)["total_refunded"],
                    "mutations_applied": {k: v["applied"] for k, v in counts.items() if v["applied"]}},
        "ledger": {"customer_refunds": str(round_money(Decimal(refunded or 0), order.currency))},
    }  # fmt: skip
    so = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).first()
    if so is not None:
        dispute = session.scalars(select(Dispute).where(Dispute.supplier_order_id == so.id)).first()
        found = None if dispute is None else {"reason": dispute.reason, "outcome": dispute.outcome,
                                              "refund": str(dispute.refund_amount)}  # fmt: skip
        out["supplier"] = {"order": so.supplier_order_id, "ledger_status": so.status, "dispute": found}
    (row,) = exposures(session, [order.id])
    out["exposure"] = row.to_dict()
    return out


def _alert(session: Session, gid: str) -> dict[str, Any] | None:
    order = session.scalars(select(Order).where(Order.shopify_gid == gid)).one()
    alert = session.scalars(select(Alert).where(Alert.order_id == order.id, Alert.kind.like("protection%"))).first()
    if alert is None:
        return None
    return {"order": order.name, "severity": alert.severity, "message": alert.message,
            "due_at": alert.due_at.isoformat() if alert.due_at else None}  # fmt: skip


def _exposure(session: Session) -> dict[str, Any]:
    rows = exposures(session)
    return {"orders": [r.to_dict() for r in rows], "total": {c: str(v) for c, v in totals(rows).items()}}
