"""The inputs ``evaluate`` read, as JSON and back: stored with every decision
(``Decision.to_dict()["inputs"]``) so that it can be replayed (``worker.policy.replay``).

Its own module so the evaluation state can record its inputs without importing the replay, which
imports ``evaluate`` (state → replay → evaluate → state was an import cycle).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from worker.policy.inputs import (
    Evidence,
    FulfillmentState,
    OrderLine,
    PolicyOrder,
    Reason,
    Request,
    RequestKind,
    SupplierSnapshot,
    SupplierState,
)


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _instant(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def inputs_to_dict(
    request: Request, order: PolicyOrder, suppliers: Sequence[SupplierSnapshot], now: dt.datetime
) -> dict[str, Any]:
    """Everything ``evaluate`` read, as JSON-ready values (Decimals as strings, instants ISO 8601)."""
    return {
        "request": {
            "kind": request.kind.value,
            "reason": request.reason.value,
            "items": dict(request.items),
            "evidence": sorted(e.value for e in request.evidence),
        },
        "order": {
            "currency": order.currency,
            "lines": [
                {
                    "line_id": line.line_id,
                    "quantity": line.quantity,
                    "unit_price": str(line.unit_price),
                    "discount": str(line.discount),
                    "tax": str(line.tax),
                    "refunded_quantity": line.refunded_quantity,
                    "sku": line.sku,
                    "title": line.title,
                }
                for line in order.lines
            ],
            "shipping": str(order.shipping),
            "total_paid": str(order.total_paid),
            "already_refunded": str(order.already_refunded),
            "fulfillment": order.fulfillment.value,
            "created_at": _when(order.created_at),
            "delivered_at": _when(order.delivered_at),
            "cancelled": order.cancelled,
            "shipping_refunded": str(order.shipping_refunded),
            "taxes_included": order.taxes_included,
            "charged_back": str(order.charged_back),
            "name": order.name,
        },
        "suppliers": [_supplier_to_dict(s) for s in suppliers],
        "now": now.isoformat(),
    }


def _supplier_to_dict(supplier: SupplierSnapshot) -> dict[str, Any]:
    return {
        "supplier": supplier.supplier,
        "state": supplier.state.value,
        "amount_paid": str(supplier.amount_paid),
        "currency": supplier.currency,
        "shipping_paid": str(supplier.shipping_paid),
        "amount_refunded": str(supplier.amount_refunded),
        "items": dict(supplier.items),
        "paid_at": _when(supplier.paid_at),
        "shipped_at": _when(supplier.shipped_at),
        "delivered_at": _when(supplier.delivered_at),
        "protection_ends_at": _when(supplier.protection_ends_at),
        "has_tracking": supplier.has_tracking,
    }


def inputs_from_dict(
    data: Mapping[str, Any],
) -> tuple[Request, PolicyOrder, tuple[SupplierSnapshot, ...], dt.datetime]:
    """The inverse of :func:`inputs_to_dict`."""
    req, order = data["request"], data["order"]
    request = Request(
        kind=RequestKind(req["kind"]),
        reason=Reason(req["reason"]),
        items=req["items"],
        evidence=frozenset(Evidence(e) for e in req["evidence"]),
    )
    lines = tuple(
        OrderLine(
            line_id=line["line_id"],
            quantity=line["quantity"],
            unit_price=Decimal(line["unit_price"]),
            discount=Decimal(line["discount"]),
            tax=Decimal(line["tax"]),
            refunded_quantity=line["refunded_quantity"],
            sku=line["sku"],
            title=line["title"],
        )
        for line in order["lines"]
    )
    created = _instant(order["created_at"])
    assert created is not None  # written by inputs_to_dict from a required field
    facts = PolicyOrder(
        currency=order["currency"],
        lines=lines,
        shipping=Decimal(order["shipping"]),
        total_paid=Decimal(order["total_paid"]),
        already_refunded=Decimal(order["already_refunded"]),
        fulfillment=FulfillmentState(order["fulfillment"]),
        created_at=created,
        delivered_at=_instant(order["delivered_at"]),
        cancelled=order["cancelled"],
        shipping_refunded=Decimal(order["shipping_refunded"]),
        taxes_included=order["taxes_included"],
        name=order["name"],
        charged_back=Decimal(order.get("charged_back", "0")),  # absent from decisions stored before it
    )
    suppliers = tuple(_supplier_from_dict(s) for s in data["suppliers"])
    return request, facts, suppliers, dt.datetime.fromisoformat(data["now"])


def _supplier_from_dict(data: Mapping[str, Any]) -> SupplierSnapshot:
    return SupplierSnapshot(
        supplier=data["supplier"],
        state=SupplierState(data["state"]),
        amount_paid=Decimal(data["amount_paid"]),
        currency=data["currency"],
        shipping_paid=Decimal(data["shipping_paid"]),
        amount_refunded=Decimal(data["amount_refunded"]),
        items=data["items"],
        paid_at=_instant(data["paid_at"]),
        shipped_at=_instant(data["shipped_at"]),
        delivered_at=_instant(data["delivered_at"]),
        protection_ends_at=_instant(data["protection_ends_at"]),
        has_tracking=data["has_tracking"],
    )
