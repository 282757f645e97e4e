"""The evidence pack of a chargeback, assembled from the ledger (no I/O): the facts an operator reviews
and the ``disputeEvidenceUpdate`` input that carries them to Shopify.

Per reason:

- **not received** (PRODUCT_NOT_RECEIVED): each supplier order's tracking number and carrier, the
  shipment date and the carrier's delivery date as AliExpress's logistics status showed them (the poller
  the carrier events AliExpress's tracking API returned for this dispute, ``worker.chargebacks.tracking``),
  and the Shopify
  fulfillment(s) Shopify attaches to the evidence;
- **unacceptable** (PRODUCT_UNACCEPTABLE): the store's return policy in words — exactly the text
  ``dropsync policy explain`` prints, with the policy version — and the refusal explanation from the
  policy decision that refused the customer's return;
- **credit not processed** (CREDIT_NOT_PROCESSED): the refunds actually made, with their Shopify ids;
  with none, the refusal of the customer's request under the policy, if one is on record; with neither,
  nothing for the store (``missing`` says so);
- any other reason: the delivery facts and the refunds, for a person to complete.

``missing`` lists what the pack lacks (no tracking, no refusal on record…): a person looks before sending,
and can add their own words for the bank (``statement``, ``dropsync chargebacks evidence --text``): what the
ledger cannot know, e.g. for a fraud claim.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CancellationRequest, Chargeback, Dispute, Order, Refund, ReturnCase, SupplierOrder
from models.types import utcnow
from worker.chargebacks import tracking
from worker.money import round_money
from worker.policy.decision import Action, Decision

NOT_RECEIVED, UNACCEPTABLE, CREDIT_NOT_PROCESSED, GENERAL = (
    "not_received", "unacceptable", "credit_not_processed", "general",
)  # fmt: skip
KIND_OF_REASON = {
    "PRODUCT_NOT_RECEIVED": NOT_RECEIVED,
    "PRODUCT_UNACCEPTABLE": UNACCEPTABLE,
    "CREDIT_NOT_PROCESSED": CREDIT_NOT_PROCESSED,
}


@dataclass(frozen=True)
class Parcel:
    """One supplier parcel as the ledger knows it."""

    supplier_order_id: str
    tracking_number: str | None
    carrier: str | None
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    logistics_status: str | None
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "supplier_order_id": self.supplier_order_id, "tracking_number": self.tracking_number,
            "carrier": self.carrier, "shipped_at": _iso(self.shipped_at), "delivered_at": _iso(self.delivered_at),
            "logistics_status": self.logistics_status, "status": self.status,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Parcel:
        return cls(
            data["supplier_order_id"], data.get("tracking_number"), data.get("carrier"), _time(data.get("shipped_at")),
            _time(data.get("delivered_at")), data.get("logistics_status"), data["status"],
        )  # fmt: skip


@dataclass(frozen=True)
class Pack:
    chargeback_id: int
    reason: str
    kind: str
    order_name: str | None
    parcels: tuple[Parcel, ...] = ()
    shopify_fulfillments: tuple[dict[str, Any], ...] = ()
    policy_text: str | None = None
    policy_version: str | None = None
    refusal: str | None = None
    refunds: tuple[dict[str, Any], ...] = ()
    missing: tuple[str, ...] = ()
    #: A person's own words for the bank (``dropsync chargebacks evidence --text``), sent first in
    #: ``uncategorizedText``: what the ledger cannot know (a fraud check, a conversation with the customer).
    statement: str | None = None
    input: dict[str, Any] = field(default_factory=dict)
    built_at: dt.datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chargeback_id": self.chargeback_id, "reason": self.reason, "kind": self.kind,
            "order": self.order_name, "parcels": [p.to_dict() for p in self.parcels],
            "shopify_fulfillments": list(self.shopify_fulfillments), "policy_text": self.policy_text,
            "policy_version": self.policy_version, "refusal": self.refusal, "refunds": list(self.refunds),
            "missing": list(self.missing), "statement": self.statement, "input": dict(self.input),
            "built_at": self.built_at.isoformat(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pack:
        return cls(
            chargeback_id=int(data["chargeback_id"]), reason=data["reason"], kind=data["kind"],
            order_name=data.get("order"), parcels=tuple(Parcel.from_dict(p) for p in data.get("parcels", [])),
            shopify_fulfillments=tuple(data.get("shopify_fulfillments", [])), policy_text=data.get("policy_text"),
            policy_version=data.get("policy_version"), refusal=data.get("refusal"),
            refunds=tuple(data.get("refunds", [])), missing=tuple(data.get("missing", [])),
            statement=data.get("statement"), input=dict(data.get("input", {})),
            built_at=_time(data["built_at"]) or utcnow(),
        )  # fmt: skip


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _day(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment else "unknown"


# --- reading the ledger ----------------------------------------------------------------------------------


def parcels(session: Session, row: Chargeback) -> list[Parcel]:
    """Every supplier parcel of the disputed order (one row without tracking for a supplier order without
    any): carrier and dates from the AliExpress tracking read for this dispute, else from the poller."""
    read = {(t.supplier_order_id, t.tracking_number): t for t in tracking.of(row)}
    out: list[Parcel] = []
    query = select(SupplierOrder).where(SupplierOrder.order_id == row.order_id).order_by(SupplierOrder.id)
    for so in session.scalars(query):
        carriers = _carriers(so)
        known = [*so.tracking_numbers, *(n for (i, n) in read if i == so.supplier_order_id)]
        numbers: list[str | None] = list(dict.fromkeys(known)) or [None]
        for number in numbers:
            seen = read.get((so.supplier_order_id, number or ""))
            carrier = (
                (seen.carrier if seen else None) or carriers.get(number or "") or next(iter(carriers.values()), None)
            )
            shipped = (seen.shipped_at if seen else None) or so.shipped_at
            delivered = (seen.delivered_at if seen else None) or so.delivered_at
            out.append(
                Parcel(so.supplier_order_id, number, carrier, shipped, delivered, so.raw_logistics_status, so.status)
            )
    return out


def _carriers(so: SupplierOrder) -> dict[str, str]:
    """Tracking number → carrier: from the order's logistics info, then from tracking snapshots kept as
    AliExpress dispute evidence."""
    found: dict[str, str] = {}
    info = (so.raw or {}).get("logistics_info_list") or {}
    rows = info.get("ae_order_logistics_info") or info.get("aeop_order_logistics_info") or []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("logistics_no") and row.get("logistics_service"):
            found[str(row["logistics_no"])] = str(row["logistics_service"])
    for dispute in so.disputes:
        for item in dispute.evidence:
            content = item.get("content") if isinstance(item, dict) else None
            for parcel in (content or {}).get("parcels", []) if isinstance(content, dict) else []:
                if parcel.get("tracking_number") and parcel.get("carrier"):
                    found.setdefault(str(parcel["tracking_number"]), str(parcel["carrier"]))
    return found


def refunds(session: Session, order_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.shopify_created_at))
    return [
        {
            "id": r.shopify_gid,
            "amount": str(round_money(r.total_refunded, r.currency)),
            "currency": r.currency,
            "created_at": r.shopify_created_at.isoformat(),
            "note": r.note,
        }
        for r in rows
    ]


def refusal(session: Session, order_id: int) -> str | None:
    """The explanation of the latest refusal of the customer: a cancellation request or a return the
    store's policy refused, or a return a person declined (with the note the customer read)."""
    found: list[tuple[dt.datetime, str]] = []
    requests = session.scalars(select(CancellationRequest).where(CancellationRequest.order_id == order_id))
    for request in requests:
        decision = Decision.stored(request.policy_decision)
        if decision is not None and decision.action is Action.DENY:
            asked = _asked(decision.evaluated_at, f"{request.kind} the order", request.reason)
            found.append((decision.evaluated_at, f"{asked} The request was {_under_policy(decision)}"))
    returns = session.scalars(
        select(ReturnCase).where(ReturnCase.order_id == order_id, ReturnCase.state.in_(("declined", "denied")))
    )
    for case in returns:
        decision = Decision.stored(case.policy_decision)
        by_policy = decision is not None and decision.action is Action.DENY
        # A person's reason: the note the customer read on Shopify, or why a person denied an operator's return.
        note = case.decline_note or (None if by_policy else (case.state_history or [{}])[-1].get("why"))
        if not by_policy and not note:
            continue
        when = decision.evaluated_at if decision is not None else case.created_at
        text = f"{_asked(when, 'return items of the order', case.reason)} The return was "
        text += _under_policy(decision) if by_policy and decision is not None else "declined by the store."
        if note:
            text += f" The customer was told: {str(note).strip()}"
        found.append((case.completed_at or when, text))
    return max(found, key=lambda item: item[0])[1] if found else None


def _asked(when: dt.datetime, what: str, reason: str) -> str:
    return f"On {when.date().isoformat()} the customer asked to {what} (reason: {reason.replace('_', ' ')})."


def _under_policy(decision: Decision) -> str:
    rules = " ".join(r.rstrip(".") + "." for r in decision.reasons)
    return f"refused under the store's policy (version {decision.policy_version}): {rules}"


def policy_text() -> tuple[str, str]:
    """(text, version): what ``dropsync policy explain`` prints for the configured policy."""
    from worker.policy import load_policy
    from worker.policy.explain import explain_lines
    from worker.settings import get_settings

    chosen = get_settings().policy_file
    policy = load_policy(chosen)
    return "\n".join(explain_lines(policy, chosen or "built-in default policy")), policy.version


# --- assembling ------------------------------------------------------------------------------------------


def build_pack(session: Session, row: Chargeback) -> Pack:
    """The pack for ``row`` from what the ledger holds now (reads only)."""
    kind = KIND_OF_REASON.get(row.reason, GENERAL)
    order = session.get(Order, row.order_id) if row.order_id else None
    if order is None:
        return Pack(row.id, row.reason, kind, None, missing=("the order is not mirrored yet",))
    found_parcels = tuple(parcels(session, row))
    made = tuple(refunds(session, order.id))
    base: dict[str, Any] = {
        "parcels": found_parcels,
        "shopify_fulfillments": tuple(row.shopify_fulfillments),
        "refunds": made,
        "statement": row.note,
    }
    if kind == UNACCEPTABLE:
        text, version = policy_text()
        refused = refusal(session, order.id)
        missing = () if refused else ("no refused return or cancellation on record for this order",)
        pack = Pack(row.id, row.reason, kind, order.name, policy_text=text, policy_version=version, refusal=refused,
                    missing=missing, **base)  # fmt: skip
    elif kind == CREDIT_NOT_PROCESSED:
        # The store's answer is the refund it made or the refusal it gave under its policy; with neither, the
        # pack has nothing for the store and says so (never "no refund was issued": that is the claim).
        text, version = policy_text()
        refused = None if made else refusal(session, order.id)
        missing = () if made or refused else (
            "no refund was made on Shopify and no refused return or cancellation is on record: the customer's "
            "claim may be right",
        )  # fmt: skip
        pack = Pack(row.id, row.reason, kind, order.name, policy_text=text, policy_version=version, refusal=refused,
                    missing=missing, **base)  # fmt: skip
    else:
        pack = Pack(row.id, row.reason, kind, order.name, missing=_delivery_gaps(found_parcels, row), **base)
    return _with_input(pack)


def _delivery_gaps(found: tuple[Parcel, ...], row: Chargeback) -> tuple[str, ...]:
    gaps = []
    if not any(p.tracking_number for p in found) and not row.shopify_fulfillments:
        gaps.append("no tracking number from the supplier or on the Shopify fulfillment")
    if not any(p.delivered_at for p in found):
        gaps.append("the carrier has not reported delivery")
    return tuple(gaps)


def _delivery_story(pack: Pack) -> list[str]:
    lines = []
    for p in pack.parcels:
        if p.tracking_number is None:
            continue
        line = (f"Order {pack.order_name} shipped on {_day(p.shipped_at)} with {p.carrier or 'the carrier'}, "
                f"tracking number {p.tracking_number}")  # fmt: skip
        line += f"; the carrier reported it delivered on {_day(p.delivered_at)}." if p.delivered_at else "."
        lines.append(line)
    for f in pack.shopify_fulfillments:
        lines.append(
            f"Shopify fulfillment: {f.get('shippingCarrier') or 'carrier not recorded'} tracking "
            f"{f.get('shippingTrackingNumber') or '-'}, shipped {f.get('shippingDate') or 'unknown'}."
        )
    return lines


def _refund_lines(pack: Pack) -> list[str]:
    return [
        f"Refund {r['id']} of {r['amount']} {r['currency']} issued on {str(r['created_at'])[:10]}."
        for r in pack.refunds
    ]


def _with_input(pack: Pack) -> Pack:
    """The disputeEvidenceUpdate input (``submitEvidence`` is added at submission)."""
    values: dict[str, Any] = {}
    if pack.kind == UNACCEPTABLE:
        values["refundPolicyDisclosure"] = pack.policy_text
        if pack.refusal:
            values["refundRefusalExplanation"] = pack.refusal
        story = _delivery_story(pack)
    elif pack.kind == CREDIT_NOT_PROCESSED:
        values["refundPolicyDisclosure"] = pack.policy_text
        if pack.refusal:
            values["refundRefusalExplanation"] = pack.refusal
        story = _refund_lines(pack)
    else:
        story = _delivery_story(pack) + _refund_lines(pack)
    if pack.statement:
        story = [pack.statement, *story]
    if story:
        values["uncategorizedText"] = "\n".join(story)
    return Pack(**{**pack.__dict__, "input": values})


def aliexpress_disputes(session: Session, order_id: int) -> list[Dispute]:
    query = select(Dispute).join(SupplierOrder).where(SupplierOrder.order_id == order_id).order_by(Dispute.id)
    return list(session.scalars(query))
