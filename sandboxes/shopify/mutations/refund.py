"""``refundCreate`` with Shopify's 2026-04+ rules.

- ``@idempotent(key:)`` is mandatory: without it the mutation is refused (top-level error, nothing applied).
- Same key, same input: the original result again, nothing applied twice. Same key, other input:
  ``IDEMPOTENCY_KEY_PARAMETER_MISMATCH``.
- Over-refunds are refused (``userErrors``): more units than remain, CANCEL restock for shipped units,
  more shipping than is left, a transaction above what is left on its parent, or a total above the net
  payment. ``transactions: []`` records the refund lines and moves no money.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from graphql import value_from_ast_untyped

from sandboxes.shopify import events, ids, ledger
from sandboxes.shopify.errors import ShopifyError
from sandboxes.shopify.executor import Info
from sandboxes.shopify.generator import mint
from sandboxes.shopify.model import ZERO_PAIR, Order, Pair, Refund, RefundLine, Transaction, gid, parse_gid
from sandboxes.shopify.refunds import (
    RefundRefused,
    parse_pair,
    plan_lines,
    refundable_parents,
    shipping_left,
)
from sandboxes.shopify.state import IdempotentResult
from sandboxes.shopify.views.money import RefundView
from sandboxes.shopify.views.orders import OrderView

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox

NAME = "refundCreate"


def idempotency_key(info: Info) -> str | None:
    for directive in info.field_nodes[0].directives or ():
        if directive.name.value == "idempotent":
            for argument in directive.arguments or ():
                if argument.name.value == "key":
                    variables: dict[str, Any] = getattr(info.variable_values, "coerced", {})
                    value = value_from_ast_untyped(argument.value, variables)
                    return str(value) if value not in (None, "") else None
    return None


def refund_create(sandbox: ShopifySandbox, info: Info, data: dict[str, Any]) -> dict[str, Any]:
    state = sandbox.state
    order_gid = str(data.get("orderId"))
    key = idempotency_key(info)
    if key is None:
        state.record(NAME, order_gid, applied=False, refused="missing @idempotent key")
        raise ShopifyError(
            "The @idempotent directive with a key is required for refundCreate (mandatory since API version 2026-04).",
            "BAD_REQUEST",
        )
    fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    stored = state.idempotency.get(f"{NAME}:{key}")
    if stored is not None:
        return _replay(sandbox, stored, fingerprint, key, order_gid)
    result = _apply(sandbox, data, order_gid)
    state.idempotency[f"{NAME}:{key}"] = IdempotentResult(fingerprint, result)
    return _render(sandbox, result)


def _replay(
    sandbox: ShopifySandbox, stored: IdempotentResult, fingerprint: str, key: str, order_gid: str
) -> dict[str, Any]:
    if stored.fingerprint != fingerprint:
        sandbox.state.record(NAME, order_gid, applied=False, refused="idempotency key parameter mismatch", key=key)
        raise ShopifyError(
            f"The idempotency key '{key}' was already used with different parameters.",
            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
        )
    sandbox.state.record(NAME, order_gid, applied=False, replayed=True, key=key)
    return _render(sandbox, stored.result)


def _render(sandbox: ShopifySandbox, result: dict[str, Any]) -> dict[str, Any]:
    """Payload from a stored outcome: the refund and order as they are now, or the original userErrors."""
    if result["userErrors"]:
        return {"refund": None, "order": None, "userErrors": result["userErrors"]}
    order = sandbox.state.get(ids.order_index(result["order_id"]))
    assert order is not None
    refund = next(r for r in order.refunds if r.id == result["refund_id"])
    return {
        "refund": RefundView(sandbox.state, order, refund),
        "order": OrderView(sandbox.state, order),
        "userErrors": [],
    }


def _apply(sandbox: ShopifySandbox, data: dict[str, Any], order_gid: str) -> dict[str, Any]:
    state = sandbox.state
    numeric = parse_gid(order_gid, "Order")
    order = state.for_update(ids.order_index(numeric)) if numeric is not None else None
    if order is None:
        state.record(NAME, order_gid, applied=False, refused="order not found")
        return {"userErrors": [{"field": ["orderId"], "message": "Order does not exist"}]}
    try:
        refund = _build(order, data, state.clock.tick())
    except RefundRefused as exc:
        state.record(NAME, order_gid, applied=False, refused=exc.message)
        return {"userErrors": [{"field": exc.field, "message": exc.message}]}
    order.refunds.append(refund)
    _release_fulfillment_lines(order, refund)
    state.touch(order)
    state.record(NAME, order_gid, applied=True, refund=gid("Refund", refund.id), amount=str(refund.total().shop))
    event = events.order_changed(sandbox, order, [])
    events.refund_created(sandbox, order, refund, event)
    return {"userErrors": [], "order_id": order.id, "refund_id": refund.id}


def _build(order: Order, data: dict[str, Any], now: datetime) -> Refund:
    currency = data.get("currency")
    lines = plan_lines(order, list(data.get("refundLineItems") or []))
    for line in lines:
        line.id = mint(order, "RefundLineItem")
    shipping = _shipping(order, data.get("shipping"), currency)
    wanted = list(data.get("transactions") or [])
    transactions = _transactions(order, wanted, currency, bool(data.get("allowOverRefunding")), now)
    refund_id = mint(order, "Refund")
    return Refund(refund_id, now, data.get("note"), lines, shipping, transactions)


def _shipping(order: Order, shipping: dict[str, Any] | None, currency: str | None) -> Pair:
    if not shipping:
        return Pair(ZERO_PAIR.shop, ZERO_PAIR.presentment)
    left = shipping_left(order)
    if shipping.get("fullRefund"):
        return left
    amount = parse_pair(order, shipping.get("amount"), currency, ["shipping", "amount"])
    if amount.shop > left.shop:
        raise RefundRefused(
            ["shipping", "amount"], f"Shipping refund of {amount.shop} exceeds the {left.shop} left to refund"
        )
    return amount


def _transactions(
    order: Order, wanted: list[dict[str, Any]], currency: str | None, allow_over: bool, now: datetime
) -> list[Transaction]:
    parents = {parent.id: (parent, left) for parent, left in refundable_parents(order)}
    made: list[Transaction] = []
    total = Pair(ZERO_PAIR.shop, ZERO_PAIR.presentment)
    for position, entry in enumerate(wanted):
        path = ["transactions", str(position)]
        if entry.get("kind") != "REFUND":
            raise RefundRefused([*path, "kind"], "Only REFUND transactions can be created by refundCreate")
        parent_id = parse_gid(str(entry.get("parentId") or ""), "OrderTransaction")
        if parent_id not in parents:
            raise RefundRefused(
                [*path, "parentId"], "Parent transaction is not a refundable sale or capture of this order"
            )
        parent, left = parents[parent_id]
        amount = parse_pair(order, entry.get("amount"), currency, [*path, "amount"])
        if amount.shop > left.shop and not allow_over:
            raise RefundRefused(
                [*path, "amount"],
                f"Refund amount {amount.shop} exceeds the {left.shop} refundable on the parent transaction",
            )
        parents[parent_id] = (parent, left - amount)
        total = total + amount
        made.append(
            Transaction(
                mint(order, "OrderTransaction"),
                "REFUND",
                "SUCCESS",
                str(entry.get("gateway") or parent.gateway),
                amount,
                now,
                parent.id,
            )
        )
    net = ledger.net_payment(order)
    if total.shop > net.shop and not allow_over:
        raise RefundRefused(
            ["transactions"], f"Refund total {total.shop} exceeds the {net.shop} paid and not yet refunded"
        )
    return made


def _release_fulfillment_lines(order: Order, refund: Refund) -> None:
    """Refunded unfulfilled units leave the fulfillment orders (a fully emptied one closes)."""
    for line in refund.lines:
        if line.restock_type != "CANCEL":
            continue
        _release(order, line)


def _release(order: Order, line: RefundLine) -> None:
    quantity = line.quantity
    for fo in order.fulfillment_orders:
        for fo_line in fo.lines:
            if fo_line.line_item_id == line.line_item_id and quantity and fo_line.remaining_quantity:
                taken = min(quantity, fo_line.remaining_quantity)
                fo_line.remaining_quantity -= taken
                quantity -= taken
        if all(x.remaining_quantity == 0 for x in fo.lines) and fo.status in ("OPEN", "IN_PROGRESS"):
            fo.status = "CLOSED"
