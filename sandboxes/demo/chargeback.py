"""The demo's chargeback: the customer tells the bank the parcel never came; the carrier says it did.

An order shipped by its AliExpress seller and delivered by the carrier gets a PRODUCT_NOT_RECEIVED
chargeback on Shopify (the sandbox plays the customer's bank). The real worker mirrors it from the
``disputes/create`` webhook, reads the dispute and the parcel's AliExpress tracking, raises the evidence
deadline; the operator reviews the pack and submits it (``dropsync chargebacks submit --yes``: the same
service function); the worker sends ``disputeEvidenceUpdate`` once; the card network decides for the
store (the sandbox's ``decide``) and ``disputes/update`` brings WON into the ledger, clearing the exposure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models import Alert, Chargeback, Order, SupplierOrder
from models.types import utcnow
from sandboxes.demo.story import ACTOR, wait_for
from worker.chargebacks import evidence, service, submission
from worker.db import session_scope
from worker.money import round_money
from worker.stack import Stack, StackError, send_task

TRACKING = "LP00DEMO0004CN"


def _row(dispute_gid: str) -> Chargeback | None:
    with session_scope() as session:
        return session.scalars(select(Chargeback).where(Chargeback.dispute_gid == dispute_gid)).first()


def _polled(order_gid: str) -> bool:
    with session_scope() as session:
        so = session.scalars(
            select(SupplierOrder).join(Order, SupplierOrder.order_id == Order.id).where(Order.shopify_gid == order_gid)
        ).first()
        if so is None:
            return False
        if so.last_polled_at is None:
            send_task("supplier.poll_one", so.id)
        return so.last_polled_at is not None


def _seen(dispute_gid: str, *, sent: bool = False, status: str | None = None) -> bool:
    row = _row(dispute_gid)
    if row is None:
        return False
    return (not sent or row.evidence_sent_on is not None) and (status is None or row.status == status)


def chargeback_won(stack: Stack, timeout: float) -> str:
    """Play the chargeback; returns the dispute's gid (the summary reads everything back)."""
    if stack.shopify is None or stack.aliexpress is None:
        raise StackError("the demo needs the sandboxes (unset SHOPIFY_ACCESS_TOKEN)")
    shopify, aliexpress = stack.shopify, stack.aliexpress
    supplier_id = aliexpress.paid_order("18.90")
    aliexpress.ship(supplier_id, TRACKING)
    aliexpress.deliver(supplier_id)
    order_gid = shopify.control.create_order(status="fulfilled", line_items=1, aliexpress_order_id=supplier_id)
    wait_for("the delivered order is mirrored, linked and polled", lambda: _polled(order_gid), stack, timeout)
    dispute_gid = shopify.control.open_dispute(order_gid, type="CHARGEBACK", reason="PRODUCT_NOT_RECEIVED")

    def ready() -> bool:  # disputes/create applied, then the refresh task read the dispute and the tracking
        row = _row(dispute_gid)
        return row is not None and row.evidence_gid is not None and bool(row.supplier_tracking)

    wait_for("the chargeback is mirrored with its AliExpress tracking", ready, stack, timeout)
    with session_scope() as session:  # the operator: `dropsync chargebacks submit ORDER --yes`
        row = session.scalars(select(Chargeback).where(Chargeback.dispute_gid == dispute_gid)).one()
        submission.request_submission(session, row, actor=ACTOR)
    wait_for("the evidence is sent to Shopify", lambda: _seen(dispute_gid, sent=True), stack, timeout)
    shopify.control.decide_dispute(dispute_gid, "WON")
    wait_for("the card network's decision reaches the ledger", lambda: _seen(dispute_gid, status="WON"), stack, timeout)
    return dispute_gid


def summary(stack: Stack, dispute_gid: str) -> dict[str, Any]:
    """The chargeback as the ledger and the Shopify sandbox show it now."""
    assert stack.shopify is not None
    with session_scope() as session:
        row = session.scalars(select(Chargeback).where(Chargeback.dispute_gid == dispute_gid)).one()
        order = session.get_one(Order, row.order_id)
        pack = evidence.Pack.from_dict(row.pack) if row.pack else evidence.build_pack(session, row)
        alerts = session.scalars(select(Alert).where(Alert.order_id == order.id, Alert.kind.like("chargeback%")))
        raised = [{"kind": a.kind, "resolved": a.resolved_at is not None} for a in alerts]
        advice = service.recommendation_for(session, row, utcnow())
        order_name = order.name
        figures: dict[str, Any] = {
            "order": order_name, "dispute": dispute_gid, "reason": row.reason,
            "amount": str(round_money(row.amount, row.currency)), "fee": str(round_money(row.fee, row.currency)),
            "currency": row.currency, "ledger_status": row.status,
            "evidence_due_by": row.evidence_due_by.isoformat() if row.evidence_due_by else None,
            "evidence_sent_on": row.evidence_sent_on.isoformat() if row.evidence_sent_on else None,
            "submitted_by": row.submitted_by, "alerts": raised, "recommendation_when_decided": advice.action,
            "parcels": [p.to_dict() for p in pack.parcels], "fields_sent": sorted(pack.input),
        }  # fmt: skip
    remote = stack.shopify.control.dispute(dispute_gid)
    figures["shopify"] = {"status": remote["status"], "submissions": len(remote["submissions"]),
                          "mutations_applied": stack.shopify.control.applied_counts(order_name)}  # fmt: skip
    return figures


def summary_lines(case: dict[str, Any]) -> list[str]:
    parcels = "; ".join(
        f"{p['carrier']} {p['tracking_number']} shipped {str(p['shipped_at'])[:10]}, "
        f"delivered {str(p['delivered_at'])[:10]}"
        for p in case["parcels"]
    )
    mutations = ", ".join(f"{k}×{v}" for k, v in sorted(case["shopify"]["mutations_applied"].items())) or "none"
    return [
        f"Chargeback won: {case['order']} ({case['reason']}, {case['amount']} {case['currency']} + fee {case['fee']})",
        f"  evidence pack from AliExpress tracking: {parcels}; sent: {', '.join(case['fields_sent'])}",
        f"  Shopify: dispute {case['shopify']['status']}, {case['shopify']['submissions']} submission(s); "
        f"mutations applied: {mutations}",
        f"  ledger: {case['ledger_status']}, evidence sent {str(case['evidence_sent_on'])[:16]}; alerts "
        + ", ".join(f"{a['kind']} ({'resolved' if a['resolved'] else 'open'})" for a in case["alerts"]),
    ]
