"""The cross-check rules: pure functions over the ledger's view of both sides of one order.

Each rule looks at the Shopify order (as mirrored) and its supplier orders (as last polled) and, when
the two sides disagree, returns a :class:`Disagreement`: what is wrong, the action to take in words, its
deadline, and the ``dropsync`` command that records or performs it. No queries, no I/O.

=============================  ==========================================================================
rule                           fires while
=============================  ==========================================================================
shopify_cancelled_supplier_live  Shopify cancelled, fully refunded or charged back in full; a supplier order
                               is paid, not shipped, and no cancellation is pending with the seller (ask it
                               to cancel: before it ships). After the seller refused: open a dispute or wait
                               for tracking.
supplier_cancelled_shopify_open  a supplier order closed cancelled before its goods left the seller (the
                               money comes back and nothing ships); Shopify open and not refunded (nor given
                               back by the customer's bank in a chargeback); no other supplier order whose
                               goods come or came covers its lines (one linked without items covers them
                               all) and no cancellation request of ours is carrying it out (cancel/refund
                               the customer for them, or re-order). One closed after it shipped, or by a
                               dispute about goods that shipped, is a recovery (a dispute refund), not a
                               cancellation: the customer has or had the goods.
supplier_shipped_shopify_cancelled  the seller shipped goods for an order cancelled, or refunded in full before
                               the seller shipped (a refund after shipping is a return's or a choice to let
                               the customer keep it), no dispute is recorded and the seller has not refunded
                               it all (recover them: return and dispute)
fulfilled_without_supplier     Shopify fulfilled, no supplier order linked (orders created within the window:
                               older ones are history a backfill brings in, not news)
paid_without_supplier          paid for longer than N hours (setting), no supplier order linked (same window)
supplier_delivered_shopify_unfulfilled  the carrier delivered; Shopify still shows it unfulfilled
amounts_disagree               paid to suppliers exceeds what the order sold for by more than the
                               tolerance. Sold for: its total less the refunds made before the supplier
                               was paid (what was removed before buying); a later refund (a return of
                               delivered goods) changes the store's margin, not the supplier's price, and
                               is the exposure report's and the dispute window's. Same currency only; a
                               supplier order closed cancelled is not counted (its money comes back, with
                               its own deadline); an order cancelled or refunded in full is not checked.
=============================  ==========================================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from integrations.aliexpress import status as st

SHOPIFY_CANCELLED_SUPPLIER_LIVE = "shopify_cancelled_supplier_live"
SUPPLIER_CANCELLED_SHOPIFY_OPEN = "supplier_cancelled_shopify_open"
SUPPLIER_SHIPPED_SHOPIFY_CANCELLED = "supplier_shipped_shopify_cancelled"
FULFILLED_WITHOUT_SUPPLIER = "fulfilled_without_supplier"
PAID_WITHOUT_SUPPLIER = "paid_without_supplier"
SUPPLIER_DELIVERED_SHOPIFY_UNFULFILLED = "supplier_delivered_shopify_unfulfilled"
AMOUNTS_DISAGREE = "amounts_disagree"

#: Paid to the seller and not shipped: the money can still be saved by cancelling.
LIVE_STATES = frozenset({st.RISK_CHECK, st.AWAITING_SHIPMENT, st.AWAITING_PAYMENT})
SHIPPED_STATES = frozenset({st.PARTLY_SHIPPED, st.SHIPPED, st.DELIVERED, st.CLOSED_COMPLETED})
PAID_STATUSES = frozenset({"PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED"})
#: Shopify's display fulfillment statuses while nothing has shipped (None: not mirrored yet); a request
#: the fulfillment service declined or an order on hold is just as unfulfilled as one never requested.
SHOPIFY_UNSHIPPED: frozenset[str | None] = frozenset(
    {"UNFULFILLED", "IN_PROGRESS", "OPEN", "PENDING_FULFILLMENT", "SCHEDULED", "ON_HOLD", "REQUEST_DECLINED", None}
)
ACT_SOON = dt.timedelta(hours=24)


@dataclass(frozen=True)
class ShopifyRefund:
    at: dt.datetime
    amount: Decimal


@dataclass(frozen=True)
class ShopifySide:
    order_id: int
    shop_id: int
    name: str
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    financial_status: str | None
    fulfillment_status: str | None
    total_price: Decimal
    total_refunded: Decimal
    currency: str
    requires_shipping: bool
    #: A cancellation request of ours is carrying the order's cancellation out (not final yet).
    cancellation_in_progress: bool
    #: What the customer's bank gave back through chargebacks not won (``worker.chargebacks.held``).
    charged_back: Decimal = Decimal(0)
    #: The order's refunds as mirrored (when, how much); ``total_refunded`` may hold more (not mirrored).
    refunds: tuple[ShopifyRefund, ...] = ()

    @property
    def last_refund_at(self) -> dt.datetime | None:
        """When Shopify made the order's last refund (None: no refund mirrored)."""
        return max((r.at for r in self.refunds), default=None)

    @property
    def cancelled_or_refunded(self) -> bool:
        """Cancelled, refunded in full, or all its money given back by the customer's bank (a chargeback):
        nothing is owed the customer, so nothing should be bought or shipped for it."""
        return self.cancelled_at is not None or self.financial_status == "REFUNDED" or self.charged_back_in_full

    @property
    def charged_back_in_full(self) -> bool:
        return self.charged_back > 0 and self.charged_back >= self.total_price - self.total_refunded

    @property
    def what(self) -> str:
        """How the order ended, for a message: cancelled, refunded or charged back."""
        if self.cancelled_at is not None:
            return "cancelled"
        return "refunded" if self.financial_status == "REFUNDED" else "charged back by the customer's bank"

    @property
    def open_unrefunded(self) -> bool:
        """Not cancelled and the customer still has money to get back (a chargeback not won gave it)."""
        in_full = self.cancelled_at is not None or self.financial_status in ("REFUNDED", "VOIDED")
        return not (in_full or self.charged_back_in_full)


@dataclass(frozen=True)
class SupplierSide:
    id: int
    supplier_order_id: str
    status: str
    currency: str
    amount_paid: Decimal
    amount_refunded: Decimal
    paid_at: dt.datetime | None
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    closed_at: dt.datetime | None
    handling_deadline: dt.datetime | None
    protection_ends_at: dt.datetime | None
    refused: bool
    disputed: bool
    #: The Shopify line items it covers (empty: linked without items, coverage unknown).
    line_item_ids: frozenset[int] = frozenset()
    #: A dispute is recorded about goods that left the seller (any reason but "not shipped").
    goods_disputed: bool = False

    @property
    def cancelled_before_shipping(self) -> bool:
        """Closed cancelled with nothing shipped: the seller will not send these goods. AliExpress closes an
        order settled by a dispute the same way (FINISH, ``seller_accept_issue_no_goods_return``: the money
        comes back), after delivery too; such a refund recovers the cost of goods the customer has, it does
        not leave the customer's order without goods."""
        shipped = self.shipped_at is not None or self.delivered_at is not None
        return self.status == st.CLOSED_CANCELLED and not shipped and not self.goods_disputed


@dataclass(frozen=True)
class Settings:
    unlinked_after: dt.timedelta = dt.timedelta(hours=48)
    amount_tolerance: Decimal = Decimal("0.01")
    #: Orders created before ``now - window`` are history (a backfill): "no supplier order" is not news.
    window: dt.timedelta = dt.timedelta(days=60)


@dataclass(frozen=True)
class Disagreement:
    rule: str
    severity: str
    message: str
    due_at: dt.datetime
    command: str
    supplier_order_id: int | None = None
    #: A different situation under the same rule (``refused``): a new alert, notified again.
    variant: str = ""


Rule = Callable[[ShopifySide, Sequence[SupplierSide], dt.datetime, Settings], list[Disagreement]]


def _ref(order: ShopifySide) -> str:
    return f"'{order.name}'"


def shopify_cancelled_supplier_live(
    order: ShopifySide, suppliers: Sequence[SupplierSide], now: dt.datetime, _: Settings
) -> list[Disagreement]:
    if not order.cancelled_or_refunded:
        return []
    out = []
    what = order.what
    for so in suppliers:
        if so.status not in LIVE_STATES or so.disputed:
            continue
        if so.refused:
            message = (
                f"{order.name} is {what} in Shopify but the seller refused to cancel AliExpress order "
                f"{so.supplier_order_id}: open a dispute on AliExpress if it still has not shipped, or wait for "
                "tracking and recover the goods"
            )
            command = f"dropsync dispute open {_ref(order)} --reason not_shipped"
        elif so.status == st.AWAITING_PAYMENT:
            message = (
                f"{order.name} is {what} in Shopify: do not pay AliExpress order {so.supplier_order_id}; "
                "cancel it on AliExpress"
            )
            command = f"dropsync supplier cancel-requested {_ref(order)}"
        else:
            message = (
                f"{order.name} is {what} in Shopify while AliExpress order {so.supplier_order_id} is paid and "
                "awaiting shipment: ask the seller to cancel on AliExpress before it ships, then record it"
            )
            command = f"dropsync supplier cancel-requested {_ref(order)}"
        due = so.handling_deadline or now
        variant = "refused" if so.refused else ""
        out.append(Disagreement(SHOPIFY_CANCELLED_SUPPLIER_LIVE, "critical", message, due, command, so.id, variant))
    return out


def supplier_cancelled_shopify_open(
    order: ShopifySide, suppliers: Sequence[SupplierSide], now: dt.datetime, _: Settings
) -> list[Disagreement]:
    if not order.open_unrefunded or order.cancellation_in_progress:
        return []
    # A supplier order closed after its goods shipped (a dispute refund after delivery) still covers them.
    live = [so for so in suppliers if not so.cancelled_before_shipping]
    if any(not so.line_item_ids for so in live):
        return []  # re-ordered elsewhere without saying which lines: taken as covering them all
    covered = frozenset().union(*(so.line_item_ids for so in live))
    out = []
    for so in suppliers:
        if not so.cancelled_before_shipping or (live and (not so.line_item_ids or so.line_item_ids <= covered)):
            continue  # its goods come or came, or they still come from another seller
        if live:
            message = (
                f"AliExpress order {so.supplier_order_id} was closed and refunded by the seller while {order.name} "
                "is open and unrefunded in Shopify, and no other supplier order covers its items: cancel and "
                "refund the customer for them (dropsync cancel request --items), or re-order them elsewhere and "
                "link it"
            )
            command = f"dropsync orders show {_ref(order)}"
        else:
            message = (
                f"AliExpress order {so.supplier_order_id} was closed and refunded by the seller while {order.name} "
                "is open and unrefunded in Shopify: cancel and refund the customer, or re-order elsewhere and link it"
            )
            command = f"dropsync cancel request {_ref(order)} --reason out_of_stock"
        due = (so.closed_at or now) + ACT_SOON
        out.append(Disagreement(SUPPLIER_CANCELLED_SHOPIFY_OPEN, "critical", message, due, command, so.id))
    return out


def supplier_shipped_shopify_cancelled(
    order: ShopifySide, suppliers: Sequence[SupplierSide], now: dt.datetime, _: Settings
) -> list[Disagreement]:
    if order.cancelled_at is None and order.financial_status != "REFUNDED":
        return []
    what = "cancelled" if order.cancelled_at else "refunded in full"
    out = []
    for so in suppliers:
        if so.status not in SHIPPED_STATES or so.disputed or _refunded_in_full(so):
            continue
        if order.cancelled_at is None and not _refunded_before_shipping(order, so):
            continue
        message = (
            f"the seller shipped AliExpress order {so.supplier_order_id} but {order.name} is {what} in Shopify: "
            "recover the money before buyer protection ends: have the parcel refused or arrange a return to the "
            "seller, and open a dispute on AliExpress"
        )
        due = so.protection_ends_at or (so.shipped_at or now) + dt.timedelta(days=15)
        command = f"dropsync dispute open {so.supplier_order_id} --reason returned_to_seller"
        out.append(Disagreement(SUPPLIER_SHIPPED_SHOPIFY_CANCELLED, "critical", message, due, command, so.id))
    return out


def _refunded_before_shipping(order: ShopifySide, so: SupplierSide) -> bool:
    """The customer had all their money back before the seller shipped (the store meant to cancel): a
    full refund after shipping is a return's, or the store letting the customer keep the goods."""
    if order.last_refund_at is None:
        return False
    shipped = so.shipped_at or so.delivered_at
    return shipped is None or order.last_refund_at <= shipped


def _refunded_in_full(so: SupplierSide) -> bool:
    """The seller gave all the money back (a refund recorded without a dispute): nothing left to recover."""
    return so.amount_paid > 0 and so.amount_refunded >= so.amount_paid


def without_supplier(
    order: ShopifySide, suppliers: Sequence[SupplierSide], now: dt.datetime, settings: Settings
) -> list[Disagreement]:
    if suppliers or not order.requires_shipping or order.cancelled_or_refunded:
        return []
    if order.created_at < now - settings.window:
        return []
    command = f"dropsync supplier link {_ref(order)} ALIEXPRESS_ORDER_NUMBER"
    if order.fulfillment_status == "FULFILLED":
        message = (
            f"{order.name} is fulfilled in Shopify but no AliExpress order is linked: link the supplier order "
            "(or check who shipped it)"
        )
        return [Disagreement(FULFILLED_WITHOUT_SUPPLIER, "warning", message, now, command)]
    due = order.created_at + settings.unlinked_after
    if order.financial_status in PAID_STATUSES and now >= due:
        hours = int(settings.unlinked_after.total_seconds() // 3600)
        message = (
            f"{order.name} was paid more than {hours} h ago and no AliExpress order is linked: "
            "place the supplier order and link it"
        )
        return [Disagreement(PAID_WITHOUT_SUPPLIER, "warning", message, due, command)]
    return []


def supplier_delivered_shopify_unfulfilled(
    order: ShopifySide, suppliers: Sequence[SupplierSide], now: dt.datetime, _: Settings
) -> list[Disagreement]:
    if order.cancelled_at is not None or order.fulfillment_status not in SHOPIFY_UNSHIPPED:
        return []
    out = []
    for so in suppliers:
        if so.status not in (st.DELIVERED, st.CLOSED_COMPLETED):
            continue
        message = (
            f"the carrier delivered AliExpress order {so.supplier_order_id} but {order.name} is still unfulfilled "
            "in Shopify: mark it fulfilled with the tracking number"
        )
        due = (so.delivered_at or now) + ACT_SOON
        command = f"dropsync orders show {_ref(order)}"
        out.append(Disagreement(SUPPLIER_DELIVERED_SHOPIFY_UNFULFILLED, "warning", message, due, command, so.id))
    return out


def amounts_disagree(
    order: ShopifySide, suppliers: Sequence[SupplierSide], now: dt.datetime, settings: Settings
) -> list[Disagreement]:
    same = [
        so for so in suppliers
        if so.currency == order.currency and so.amount_paid > 0 and so.status != st.CLOSED_CANCELLED
    ]  # fmt: skip
    if not same or order.cancelled_or_refunded:
        return []
    paid = sum((so.amount_paid - so.amount_refunded for so in same), Decimal(0))
    sold = order.total_price - _refunded_before_buying(order, same)
    if paid - sold <= settings.amount_tolerance:
        return []
    message = (
        f"{order.name} sold for {sold:.2f} {order.currency} but {paid:.2f} {order.currency} was paid to the "
        f"supplier: the store loses {paid - sold:.2f} on it; check the supplier order's price and quantities"
    )
    due = max((so.paid_at or now) for so in same) + ACT_SOON
    return [Disagreement(AMOUNTS_DISAGREE, "warning", message, due, f"dropsync orders show {_ref(order)}")]


def _refunded_before_buying(order: ShopifySide, bought: Sequence[SupplierSide]) -> Decimal:
    """What the customer had back before the supplier was last paid: what was removed from the order before
    buying. A refund mirrored as made later is not counted (a return, a goodwill refund: the store's margin,
    not the supplier's price); one not mirrored (or a supplier order with no payment date) still is."""
    paid_at = [so.paid_at for so in bought]
    if any(at is None for at in paid_at):
        return order.total_refunded
    bought_at = max(at for at in paid_at if at is not None)
    later = sum((r.amount for r in order.refunds if r.at > bought_at), Decimal(0))
    return max(order.total_refunded - later, Decimal(0))


RULES: tuple[Rule, ...] = (
    shopify_cancelled_supplier_live,
    supplier_cancelled_shopify_open,
    supplier_shipped_shopify_cancelled,
    without_supplier,
    supplier_delivered_shopify_unfulfilled,
    amounts_disagree,
)


def check(
    order: ShopifySide, suppliers: Sequence[SupplierSide], now: dt.datetime, settings: Settings
) -> list[Disagreement]:
    """Every disagreement between the two sides of ``order`` at ``now``, most urgent first."""
    found = [d for rule in RULES for d in rule(order, suppliers, now, settings)]
    return sorted(found, key=lambda d: (d.severity != "critical", d.due_at))
