"""Shopify's mandatory privacy topics: erase a customer's (or a whole shop's) PII from every stored copy.

What is erased, for the orders named (``customers/redact``: the customer's orders; ``shop/redact``: all):

- the order's email, phone, customer name and id, shipping address, and the PII keys at any depth of
  the stored raw snapshots (orders and their supplier orders);
- the customer's values (e-mail, phone, name, address lines) wherever else the shop's rows hold them:
  webhook inbox bodies (the redact delivery itself included — it names the customer), timeline text
  and data, alerts, cancellation requests, Shopify intents, ledger notes, refunds, supplier orders and
  dispute records. An inbox body loses the PII keys too (it can no longer be re-verified against its
  HMAC: it was verified when it arrived).

Money, statuses, ids and the timeline's events stay: they hold no PII and the books must still add up.
Logs are not the ledger's (they are redacted when written). Handled inbox rows are also pruned after
``DROPSYNC_INBOX_RETENTION_DAYS`` (``worker.mirror.inbox.prune``), so old payloads do not pile up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Text, cast, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from models import (
    Alert,
    CancellationRequest,
    Chargeback,
    Dispute,
    FulfillmentOrder,
    LedgerEntry,
    Order,
    Refund,
    RequestEvidence,
    ReturnCase,
    ReturnLine,
    Shop,
    ShopifyIntent,
    SupplierOrder,
    TimelineEvent,
    WebhookDelivery,
)
from models.types import utcnow

PII_KEYS = frozenset(
    {
        "email", "contact_email", "phone", "customer", "shipping_address", "billing_address", "browser_ip",
        "client_details", "customer_locale", "note", "shippingAddress", "billingAddress", "displayName",
        "first_name", "last_name", "firstName", "lastName", "address1", "address2", "zip", "name_on_card",
        "receiver_name", "receiver_phone", "receiver_address", "buyer_login_id",
    }
)  # fmt: skip
#: Keys whose string values are the customer's own (collected before erasing, then replaced anywhere).
VALUE_KEYS = frozenset(
    {"email", "contact_email", "phone", "displayName", "address1", "address2", "name", "receiver_name",
     "receiver_phone", "receiver_address", "buyer_login_id"}
)  # fmt: skip
#: Containers whose ``name`` is a person's (an address's recipient), not a product's or an order's.
_PERSON_CONTAINERS = frozenset(
    {"customer", "shipping_address", "billing_address", "shippingAddress", "billingAddress"}
)  # fmt: skip
REDACTED = "[redacted]"
MIN_VALUE_LENGTH = 4  # shorter strings ("NY", "12") are not identifying and would erase unrelated text


def scrub(value: Any) -> Any:
    """A copy of a JSON value with every PII key removed, at any depth."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in PII_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def personal_values(value: Any, inside: str | None = None) -> set[str]:
    """The customer's values in a JSON snapshot: strings under PII keys (names only inside an address or
    the customer), and first + last name joined."""
    found: set[str] = set()
    if isinstance(value, dict):
        first = value.get("first_name") or value.get("firstName")
        last = value.get("last_name") or value.get("lastName")
        if isinstance(first, str) and isinstance(last, str):
            found |= {f"{first} {last}", first, last}
        for key, item in value.items():
            if isinstance(item, str) and key in VALUE_KEYS and (key != "name" or inside in _PERSON_CONTAINERS):
                found.add(item)
            elif isinstance(item, dict | list):
                found |= personal_values(item, key if isinstance(item, dict) else inside)
    elif isinstance(value, list):
        for item in value:
            found |= personal_values(item, inside)
    return {v.strip() for v in found if len(v.strip()) >= MIN_VALUE_LENGTH}


def order_values(order: Order) -> set[str]:
    values = {order.email or "", order.phone or "", order.customer_name or ""}
    values |= personal_values(order.shipping_address or {}, "shipping_address")
    values |= personal_values(order.raw)
    return {v for v in values if len(v) >= MIN_VALUE_LENGTH}


@dataclass(frozen=True)
class Eraser:
    """Replaces a set of values in text and JSON (one compiled pattern, longest value first)."""

    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, values: Iterable[str]) -> Eraser:
        ordered = sorted({v for v in values if len(v) >= MIN_VALUE_LENGTH}, key=len, reverse=True)
        if not ordered:
            return cls(None)
        return cls(re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE))

    def text(self, value: str | None) -> str | None:
        if value is None or self.pattern is None:
            return value
        return self.pattern.sub(REDACTED, value)

    def json(self, value: Any, *, drop_keys: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: self.json(v, drop_keys=drop_keys) for k, v in value.items() if not (drop_keys and k in PII_KEYS)}
        if isinstance(value, list):
            return [self.json(v, drop_keys=drop_keys) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def body(self, body: str) -> str:
        """An inbox body: PII keys dropped and values replaced (text replaced if it is not JSON)."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self.text(body) or ""
        return orjson.dumps(self.json(parsed, drop_keys=True)).decode()


def erase_order(session: Session, order: Order) -> None:
    order.email = order.phone = order.customer_name = order.customer_gid = None
    order.shipping_address = None
    order.raw = scrub(order.raw)
    order.note_attributes = scrub(order.note_attributes)
    order.redacted_at = utcnow()
    for supplier_order in session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)):
        supplier_order.raw = scrub(supplier_order.raw)


# Every other stored copy: (model, shop scope, text columns, JSON columns).
Scope = Callable[[int], ColumnElement[bool]]


def _of_shop_orders(column: InstrumentedAttribute[int]) -> Scope:
    return lambda shop_id: column.in_(select(Order.id).where(Order.shop_id == shop_id))


COPIES: tuple[tuple[type[Any], Scope, tuple[str, ...], tuple[str, ...]], ...] = (
    (WebhookDelivery, lambda s: WebhookDelivery.shop_id == s, ("last_error",), ()),
    (TimelineEvent, lambda s: TimelineEvent.shop_id == s, ("message",), ("data",)),
    (Alert, lambda s: Alert.shop_id == s, ("message",), ()),
    (CancellationRequest, lambda s: CancellationRequest.shop_id == s, ("note",),
     ("state_history", "policy_decision", "items")),
    (ShopifyIntent, lambda s: ShopifyIntent.shop_id == s, ("last_error",), ("params",)),
    (LedgerEntry, lambda s: LedgerEntry.shop_id == s, ("note",), ()),
    (SupplierOrder, lambda s: SupplierOrder.shop_id == s, ("last_poll_error",), ("raw",)),
    (Dispute, lambda s: Dispute.supplier_order_id.in_(select(SupplierOrder.id).where(SupplierOrder.shop_id == s)),
     ("notes",), ("evidence",)),
    (Refund, _of_shop_orders(Refund.order_id), ("note",), ("refund_line_items",)),
    (FulfillmentOrder, _of_shop_orders(FulfillmentOrder.order_id), (), ("line_items",)),
    (Order, lambda s: Order.shop_id == s, (), ("raw", "note_attributes", "tags")),
    (ReturnCase, lambda s: ReturnCase.shop_id == s, ("note", "decline_note"), ("state_history", "policy_decision")),
    (ReturnLine, lambda s: ReturnLine.return_id.in_(select(ReturnCase.id).where(ReturnCase.shop_id == s)),
     ("customer_note",), ()),
    (RequestEvidence, _of_shop_orders(RequestEvidence.order_id), ("reference",), ()),
    (Chargeback, lambda s: Chargeback.shop_id == s, ("note",),
     ("pack", "shopify_fulfillments", "supplier_tracking")),
)  # fmt: skip
_CHUNK = 200


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def erase_values(session: Session, shop_id: int, values: set[str]) -> int:
    """Replace ``values`` in every stored copy of the shop's rows (see ``COPIES``) and in inbox bodies.

    Rows are found by a ``LIKE`` on the value (any case), so only rows holding it are rewritten. Returns
    how many rows changed.
    """
    eraser = Eraser.of(values)
    wanted = sorted({v for v in values if len(v) >= MIN_VALUE_LENGTH})
    if eraser.pattern is None:
        return 0
    changed = 0
    for model, scope, texts, jsons in COPIES:
        columns = [getattr(model, c) for c in texts + jsons]
        if model is WebhookDelivery:
            columns.append(WebhookDelivery.body)
        for chunk in _chunks(wanted):
            holds = or_(*(cast(col, Text).icontains(v, autoescape=True) for col in columns for v in chunk))
            for row in session.scalars(select(model).where(scope(shop_id), holds)):
                changed += _rewrite(row, eraser, texts, jsons)
    session.flush()
    return changed


def _rewrite(row: Any, eraser: Eraser, texts: tuple[str, ...], jsons: tuple[str, ...]) -> int:
    before = [getattr(row, c) for c in texts + jsons]
    for column in texts:
        setattr(row, column, eraser.text(getattr(row, column)))
    for column in jsons:
        setattr(row, column, eraser.json(getattr(row, column)))
    if isinstance(row, WebhookDelivery):
        body = eraser.body(row.body)
        if body != row.body:
            row.body = body
            row.__dict__.pop("_payload", None)
            return 1
    return int(before != [getattr(row, c) for c in texts + jsons])


def orders_of_customer(session: Session, shop_id: int, payload: dict[str, Any]) -> list[Order]:
    customer = payload.get("customer") or {}
    conditions = []
    if customer.get("id") is not None:
        conditions.append(Order.customer_gid == f"gid://shopify/Customer/{customer['id']}")
    if customer.get("email"):
        conditions.append(Order.email == customer["email"])
    ids = [f"gid://shopify/Order/{i}" for i in payload.get("orders_to_redact") or []]
    if ids:
        conditions.append(Order.shopify_gid.in_(ids))
    if not conditions:
        return []
    return list(session.scalars(select(Order).where(Order.shop_id == shop_id, or_(*conditions))))


def redact_customer(session: Session, shop_id: int, payload: dict[str, Any]) -> int:
    """Erase the customer's orders, then their values everywhere else (this delivery's body included)."""
    orders = orders_of_customer(session, shop_id, payload)
    values = personal_values(payload.get("customer") or {}, "customer")
    for order in orders:
        values |= order_values(order)
        erase_order(session, order)
    session.flush()
    erase_values(session, shop_id, values)
    return len(orders)


def redact_shop(session: Session, shop_id: int) -> int:
    """48 hours after uninstall Shopify asks us to erase the shop's customer data; the shop is deactivated."""
    orders = list(session.scalars(select(Order).where(Order.shop_id == shop_id)))
    values: set[str] = set()
    for order in orders:
        values |= order_values(order)
        erase_order(session, order)
    session.flush()
    erase_values(session, shop_id, values)
    # Whatever else the shop's inbox holds (deliveries for orders never mirrored): PII keys dropped.
    for delivery in session.scalars(select(WebhookDelivery).where(WebhookDelivery.shop_id == shop_id)):
        body = Eraser.of(()).body(delivery.body)
        if body != delivery.body:
            delivery.body = body
    shop = session.get(Shop, shop_id)
    if shop is not None:
        shop.redacted_at, shop.active, shop.access_token = utcnow(), False, None
    session.flush()
    return len(orders)
