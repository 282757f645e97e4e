"""What to do about a chargeback, joining the Shopify side (the dispute, the refunds) with the supplier
side (did the parcel ship, did it arrive, is AliExpress buyer protection still open). Pure: plain values
in, a recommendation out.

- **past the evidence deadline** (``evidenceDueBy``) → Shopify no longer takes evidence: never fight
  (no submit step); the dispute is as good as lost, so accept it, and recover from the supplier where the
  parcel did not arrive (the rules below, without the fighting ones);
- **already refunded** (refunds on Shopify cover the disputed amount, or any refund on a
  credit-not-processed claim) → show the refund: fight with the refund ids as evidence;
- **delivered with tracking** (the carrier's delivery event through AliExpress) → fight with the pack;
- **never shipped, or not arrived while buyer protection is open** → accept the chargeback (the customer
  is right) and open the AliExpress dispute now, before protection ends (a couple of days' margin), so
  the supplier pays it back;
- **not arrived and protection over** → accept; the supplier side is lost (a supplier order not read from
  AliExpress yet, or without a known protection end, is never taken for "protection over": review);
- **unacceptable with a refused return on record** → fight with the policy and the refusal;
- anything else → a person reviews.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from integrations.aliexpress import status as st

FIGHT, ACCEPT_AND_DISPUTE, ACCEPT, SHOW_REFUND, REVIEW = (
    "fight",
    "accept_and_dispute_supplier",
    "accept",
    "show_refund",
    "review",
)
#: Open the AliExpress dispute at the latest this long before buyer protection ends (DOMAIN: "a couple of days").
DISPUTE_MARGIN = dt.timedelta(days=2)


@dataclass(frozen=True)
class SupplierSide:
    supplier_order_id: str
    status: str
    tracking: bool
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    protection_ends_at: dt.datetime | None
    open_dispute: bool

    @property
    def delivered(self) -> bool:
        return self.delivered_at is not None or self.status in (st.DELIVERED, st.CLOSED_COMPLETED)

    @property
    def shipped(self) -> bool:
        """Tracking or a ship date, or a status only a shipped order has. ``in_dispute`` is not one: the
        store opens the AliExpress dispute on orders that never shipped too (``not_shipped``)."""
        return (
            self.tracking
            or self.shipped_at is not None
            or self.status not in st.NOT_SHIPPED_STATES | {st.CLOSED_CANCELLED, st.IN_DISPUTE}
        )


@dataclass(frozen=True)
class Recommendation:
    action: str
    summary: str
    steps: tuple[str, ...] = ()
    aliexpress_dispute_by: dt.datetime | None = None
    refunds: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action, "summary": self.summary, "steps": list(self.steps),
            "aliexpress_dispute_by": self.aliexpress_dispute_by.isoformat() if self.aliexpress_dispute_by else None,
            "refunds": list(self.refunds),
        }  # fmt: skip


def recommend(
    *, reason: str, status: str, amount: Decimal, refunded: Decimal, refund_ids: list[str],
    suppliers: list[SupplierSide], refusal_on_record: bool, now: dt.datetime, order: str = "ORDER",
    dispute: str | None = None, evidence_due_by: dt.datetime | None = None,
) -> Recommendation:  # fmt: skip
    """``order`` is how the steps' commands name the order (e.g. ``'#1001'``, quoted for a shell);
    ``dispute``, when given, is added to them as ``--dispute`` (an order with more than one dispute)."""
    if status != "NEEDS_RESPONSE":
        return Recommendation(REVIEW, f"the dispute is {status}: nothing to send")
    which = f" --dispute {dispute}" if dispute else ""
    evidence, submit = f"dropsync chargebacks evidence {order}{which}", f"dropsync chargebacks submit {order}{which}"
    advice = _advice(reason, amount, refunded, refund_ids, suppliers, refusal_on_record, now, (evidence, submit))
    if evidence_due_by is not None and now >= evidence_due_by and advice.action in (FIGHT, SHOW_REFUND):
        # Shopify takes no evidence past its deadline (``chargebacks submit`` refuses it): nothing to fight with.
        why = advice.summary.split(":", 1)[0]
        summary = (f"the evidence was due by {evidence_due_by:%Y-%m-%d %H:%M} UTC and Shopify no longer takes it: "
                   f"nothing can be sent, the dispute is lost ({why}, but too late to show it)")  # fmt: skip
        return Recommendation(ACCEPT, summary, refunds=advice.refunds)
    return advice


def _advice(
    reason: str, amount: Decimal, refunded: Decimal, refund_ids: list[str], suppliers: list[SupplierSide],
    refusal_on_record: bool, now: dt.datetime, commands: tuple[str, str],
) -> Recommendation:  # fmt: skip
    evidence, submit = commands
    if refund_ids and (refunded >= amount or reason == "CREDIT_NOT_PROCESSED"):
        return Recommendation(
            SHOW_REFUND, f"already refunded {refunded}: fight with the refund(s) as evidence", (evidence, submit),
            refunds=tuple(refund_ids),
        )  # fmt: skip
    if reason == "PRODUCT_UNACCEPTABLE" and refusal_on_record:
        summary = "a return was refused under the store's policy: fight with the policy and the refusal"
        return Recommendation(FIGHT, summary, (submit,))
    if not suppliers:
        return Recommendation(REVIEW, "no supplier order is linked: nothing to check delivery against")
    if all(s.delivered for s in suppliers) and any(s.tracking for s in suppliers):
        return Recommendation(FIGHT, "delivered with tracking: fight it with the evidence pack", (evidence, submit))
    if reason in ("PRODUCT_NOT_RECEIVED", "GENERAL", "PRODUCT_UNACCEPTABLE"):
        return _not_arrived(suppliers, now)
    return Recommendation(REVIEW, f"{reason}: a person decides (delivery and refunds are in the pack)")


def _not_arrived(suppliers: list[SupplierSide], now: dt.datetime) -> Recommendation:
    pending = [s for s in suppliers if not s.delivered]
    never_shipped = not any(s.shipped for s in pending)
    ends = [s.protection_ends_at for s in pending if s.protection_ends_at is not None]
    open_until = min(ends) if ends else None
    unread = [s.supplier_order_id for s in pending if s.status == st.UNKNOWN]
    if unread or (not never_shipped and open_until is None):
        # Not knowing when protection ends is not knowing that it ended: never advise giving up on it.
        unknown = unread or [s.supplier_order_id for s in pending]
        what = "has not been read from AliExpress yet" if unread else "has no known buyer-protection end"
        return Recommendation(
            REVIEW, f"supplier order {', '.join(unknown)} {what}: poll it before deciding",
            tuple(f"dropsync supplier poll {i}" for i in unknown),
        )  # fmt: skip
    protected = never_shipped or (open_until is not None and open_until > now)
    what = "the parcel never shipped" if never_shipped else "the parcel has not arrived"
    if not protected:
        return Recommendation(ACCEPT, f"{what} and AliExpress buyer protection has ended: accept the chargeback",
                              ("accept the dispute in the Shopify admin",))  # fmt: skip
    dispute_by = open_until - DISPUTE_MARGIN if open_until is not None else None
    by = f" by {dispute_by:%Y-%m-%d}" if dispute_by else ""
    already = any(s.open_dispute for s in pending)
    steps = ["accept the dispute in the Shopify admin (the customer is right)"]
    if not already:
        ids = ", ".join(s.supplier_order_id for s in pending)
        why = "not_shipped" if never_shipped else "not_received"
        command = f"dropsync dispute open {pending[0].supplier_order_id} --reason {why}"
        steps.append(f"open the AliExpress dispute now{by}: {command} (supplier order {ids})")
    summary = f"{what} and buyer protection is open: accept the chargeback and recover the money from the supplier"
    return Recommendation(ACCEPT_AND_DISPUTE, summary, tuple(steps), dispute_by)
