"""Disputes into the ledger: one parser per payload shape, one monotonic merge, each change on the timeline.

Two shapes arrive: the ``disputes/*`` webhook (Shopify's REST Dispute JSON: lower-case enums, numeric ids)
and ``DisputeFields`` from GraphQL (``dispute(id)``, ``disputes``), which also carries the evidence's id,
whether it was submitted and the order's fulfillments. Both become ``DisputeFacts``; ``apply_dispute``
merges them so the row only moves forward (see ``models.Chargeback``), links the order when it is
mirrored, records every change on the order's timeline and keeps the evidence-deadline alerts current.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Session

from integrations.shopify.order import parse_time
from models import Chargeback, Order
from models.chargebacks import FINAL_STATUSES
from models.types import utcnow
from worker.db.bulk import any_of
from worker.money import round_money
from worker.timeline import record_event

RANK = {"NEEDS_RESPONSE": 0, "UNDER_REVIEW": 1}
FINAL_RANK = 2


class DisputePayloadError(ValueError):
    """A dispute payload without the fields every dispute has (id, order, amount, status…)."""


@dataclass(frozen=True)
class DisputeFacts:
    dispute_gid: str
    legacy_id: int | None
    order_gid: str | None
    dispute_type: str
    reason: str
    network_reason_code: str | None
    status: str
    amount: Decimal
    currency: str
    initiated_at: dt.datetime | None
    evidence_due_by: dt.datetime | None
    evidence_sent_on: dt.datetime | None
    finalized_on: dt.datetime | None
    evidence_gid: str | None = None
    evidence_submitted: bool | None = None
    fulfillments: list[dict[str, Any]] | None = None
    #: Read from Shopify's API just now (GraphQL), not a webhook body that may arrive after a newer one.
    read: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def from_rest(payload: dict[str, Any]) -> DisputeFacts:
    """The ``disputes/create|update`` webhook body."""
    try:
        number = int(payload["id"])
        return DisputeFacts(
            dispute_gid=f"gid://shopify/ShopifyPaymentsDispute/{number}",
            legacy_id=number,
            order_gid=f"gid://shopify/Order/{payload['order_id']}" if payload.get("order_id") else None,
            dispute_type=str(payload["type"]).upper(),
            reason=str(payload.get("reason") or "general").upper(),
            network_reason_code=payload.get("network_reason_code"),
            status=str(payload["status"]).upper(),
            amount=Decimal(str(payload["amount"])),
            currency=str(payload["currency"]),
            initiated_at=parse_time(payload.get("initiated_at")),
            evidence_due_by=parse_time(payload.get("evidence_due_by")),
            evidence_sent_on=parse_time(payload.get("evidence_sent_on")),
            finalized_on=parse_time(payload.get("finalized_on")),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise DisputePayloadError(f"dispute webhook body unusable: {exc!r}") from None


def from_graphql(node: dict[str, Any]) -> DisputeFacts:
    """A ``DisputeFields`` node."""
    try:
        evidence = node.get("disputeEvidence") or {}
        return DisputeFacts(
            dispute_gid=str(node["id"]),
            legacy_id=int(node["legacyResourceId"]) if node.get("legacyResourceId") else None,
            order_gid=(node.get("order") or {}).get("id"),
            dispute_type=str(node["type"]),
            reason=str(node["reasonDetails"]["reason"]),
            network_reason_code=node["reasonDetails"].get("networkReasonCode"),
            status=str(node["status"]),
            amount=Decimal(str(node["amount"]["amount"])),
            currency=str(node["amount"]["currencyCode"]),
            initiated_at=parse_time(node.get("initiatedAt")),
            evidence_due_by=parse_time(node.get("evidenceDueBy")),
            evidence_sent_on=parse_time(node.get("evidenceSentOn")),
            finalized_on=parse_time(node.get("finalizedOn")),
            evidence_gid=evidence.get("id"),
            evidence_submitted=evidence.get("submitted"),
            fulfillments=[dict(f) for f in evidence.get("fulfillments") or []] if evidence else None,
            read=True,
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise DisputePayloadError(f"dispute node unusable: {exc!r}") from None


def _rank(status: str) -> int:
    return FINAL_RANK if status in FINAL_STATUSES else RANK.get(status, 0)


def fee_for(dispute_type: str) -> Decimal:
    from worker.settings import get_settings

    return get_settings().chargeback_fee if dispute_type == "CHARGEBACK" else Decimal(0)


def apply_dispute(session: Session, shop_id: int, facts: DisputeFacts, *, actor: str) -> Chargeback:
    """Insert or merge one dispute (flushes only). Returns the row."""
    row = session.scalar(
        select(Chargeback).where(Chargeback.shop_id == shop_id, Chargeback.dispute_gid == facts.dispute_gid)
    )
    created = row is None
    if row is None:
        row = Chargeback(
            shop_id=shop_id, dispute_gid=facts.dispute_gid, dispute_type=facts.dispute_type, reason=facts.reason,
            status=facts.status, amount=facts.amount, currency=facts.currency, fee=fee_for(facts.dispute_type),
            evidence_submitted=False, shopify_fulfillments=[],
        )  # fmt: skip
        session.add(row)
    changes = _merge(row, facts)
    row.last_read_at = utcnow() if facts.evidence_gid else row.last_read_at
    if row.order_id is None and row.order_gid:
        row.order_id = session.scalar(
            select(Order.id).where(Order.shop_id == shop_id, Order.shopify_gid == row.order_gid)
        )
    session.flush()
    if created or changes:
        _record(session, row, created, changes, actor)
    from worker.chargebacks.deadlines import sync_alerts

    sync_alerts(session, row, utcnow())
    return row


def _merge(row: Chargeback, facts: DisputeFacts) -> list[str]:
    """Move the row forward to what ``facts`` says; returns what changed, in words.

    Within one phase the status only moves forward and what was sent or decided stays. An inquiry the bank
    turns into a chargeback starts a new phase: the chargeback's own status (needs a response again, even
    after the inquiry was answered), deadline and evidence. News of the inquiry arriving after that (a late
    webhook) changes nothing of the chargeback's. A deadline Shopify moves is taken from its current read.
    """
    changes: list[str] = []
    escalated = facts.dispute_type == "CHARGEBACK" and row.dispute_type != "CHARGEBACK"
    if row.dispute_type == "CHARGEBACK" and facts.dispute_type != "CHARGEBACK":
        return changes  # the inquiry's news, after its escalation: stale
    if escalated:
        changes.append("the inquiry became a chargeback")
        row.dispute_type, row.fee = "CHARGEBACK", fee_for("CHARGEBACK")
        _new_phase(row, facts, changes)
    elif _rank(facts.status) > _rank(row.status):
        changes.append(f"status {row.status} → {facts.status}")
        row.status = facts.status
    if facts.amount != row.amount and row.status not in FINAL_STATUSES:
        changes.append(f"amount {row.amount} → {facts.amount} {facts.currency}")
        row.amount, row.currency = facts.amount, facts.currency
    for name in ("evidence_sent_on", "finalized_on", "evidence_due_by"):
        value = getattr(facts, name)
        if value is not None and getattr(row, name) is None:
            setattr(row, name, value)
            if name != "evidence_due_by":
                changes.append(f"{name.replace('_', ' ')} {value:%Y-%m-%d %H:%M} UTC")
    moved = facts.evidence_due_by
    if facts.read and moved is not None and moved != row.evidence_due_by and row.status not in FINAL_STATUSES:
        changes.append(f"evidence due by {row.evidence_due_by:%Y-%m-%d %H:%M} → {moved:%Y-%m-%d %H:%M} UTC")
        row.evidence_due_by = moved
    for name in ("legacy_id", "order_gid", "network_reason_code", "initiated_at", "evidence_gid"):
        if getattr(row, name) is None and getattr(facts, name) is not None:
            setattr(row, name, getattr(facts, name))
    row.reason = facts.reason or row.reason
    if facts.evidence_submitted and not row.evidence_submitted:
        row.evidence_submitted = True
    if facts.fulfillments is not None:
        row.shopify_fulfillments = list(facts.fulfillments)
    return changes


def _new_phase(row: Chargeback, facts: DisputeFacts, changes: list[str]) -> None:
    """The chargeback's status, deadline and evidence as Shopify gives them, replacing the inquiry's."""
    if facts.status != row.status:
        changes.append(f"status {row.status} → {facts.status}")
        row.status = facts.status
    if facts.evidence_due_by is not None and facts.evidence_due_by != row.evidence_due_by:
        before = f"{row.evidence_due_by:%Y-%m-%d %H:%M}" if row.evidence_due_by else "none"
        changes.append(f"evidence due by {before} → {facts.evidence_due_by:%Y-%m-%d %H:%M} UTC")
        row.evidence_due_by = facts.evidence_due_by
    submitted = facts.evidence_submitted if facts.evidence_submitted is not None else facts.evidence_sent_on is not None
    if row.evidence_sent_on is not None and facts.evidence_sent_on is None:
        changes.append("the inquiry's evidence does not answer the chargeback: a response is needed again")
    row.evidence_sent_on, row.finalized_on = facts.evidence_sent_on, facts.finalized_on
    row.evidence_submitted = submitted


def _record(session: Session, row: Chargeback, created: bool, changes: list[str], actor: str) -> None:
    money = f"{round_money(row.amount, row.currency)} {row.currency}"
    if created:
        due = f", evidence due by {row.evidence_due_by:%Y-%m-%d %H:%M} UTC" if row.evidence_due_by else ""
        message = f"{row.dispute_type.lower()} opened by the customer's bank: {row.reason} for {money}{due}"
        kind = "chargeback.opened"
    else:
        message = f"{row.dispute_type.lower()} {row.number}: " + "; ".join(changes)
        kind = "chargeback.changed"
    record_event(
        session, shop_id=row.shop_id, order_id=row.order_id, kind=kind, actor=actor, message=message,
        data={"chargeback_id": row.id, "dispute": row.dispute_gid, "status": row.status, "changes": changes},
    )  # fmt: skip


def link_orders(session: Session, shop_id: int, orders: dict[str, int]) -> int:
    """Link unlinked chargebacks of these orders (gid → ledger id) now that the orders are mirrored; their
    open evidence-deadline alerts follow them to the order (``dropsync orders show``, ``dropsync check``)."""
    from worker.chargebacks.deadlines import sync_alerts

    rows = session.scalars(
        select(Chargeback).where(
            Chargeback.shop_id == shop_id,
            Chargeback.order_id.is_(None),
            any_of(session, Chargeback.order_gid, list(orders), String),  # a backfill's batch: 500 ids
        )
    ).all()
    for row in rows:
        row.order_id = orders[str(row.order_gid)]
        record_event(
            session, shop_id=shop_id, order_id=row.order_id, kind="chargeback.linked", actor="system",
            message=f"{row.dispute_type.lower()} {row.number} ({row.reason}, "
            f"{round_money(row.amount, row.currency)} {row.currency}, {row.status}) linked to this order",
            data={"chargeback_id": row.id, "dispute": row.dispute_gid},
        )  # fmt: skip
    session.flush()
    now = utcnow()
    for row in rows:
        sync_alerts(session, row, now)
    return len(rows)
