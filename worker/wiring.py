"""Who reacts to what: every hook, webhook-topic handler and subscriber of the service, in one place.

Features never register themselves by being imported. Each process's entry point calls :func:`wire`
(the Celery worker and beat, every CLI command, the web app, every bench), so the worker, the CLI and
the benches run the same reactions. ``wire()`` is idempotent and imports nothing: the tables are
registered when a dispatcher first runs, and a reaction, named ``"module:function"``, is imported the
first time it runs, so a command that never applies an order never imports the cancellation workflow.

Dispatchers (``apply_snapshots``, ``handle_deliveries``, ``supplier.events.notify``) refuse to run in a
process that was not wired: a forgotten ``wire()`` fails loudly instead of silently skipping a hook.

To add a reaction, add one line to the table it belongs to.
"""

from __future__ import annotations

import importlib
from typing import Any

FO_CANCELLATION_ANSWERED = (
    "fulfillment_orders/cancellation_request_accepted",
    "fulfillment_orders/cancellation_request_rejected",
)
FO_CANCELLATION_SUBMITTED = ("fulfillment_orders/cancellation_request_submitted",)
FULFILLMENT_ORDER_TOPICS = (
    *FO_CANCELLATION_ANSWERED, *FO_CANCELLATION_SUBMITTED, "fulfillment_orders/cancelled",
    "fulfillment_orders/fulfillment_request_accepted", "fulfillment_orders/fulfillment_request_rejected",
    "fulfillment_orders/fulfillment_request_submitted", "fulfillment_orders/order_routing_complete",
    "fulfillment_orders/placed_on_hold", "fulfillment_orders/hold_released", "fulfillment_orders/moved",
)  # fmt: skip

RETURN_TOPICS = (
    "returns/request", "returns/approve", "returns/decline", "returns/cancel", "returns/close", "returns/process",
    "returns/update", "returns/reopen",
)  # fmt: skip
DISPUTE_TOPICS = ("disputes/create", "disputes/update")

#: After each applied batch of orders, inside the applying transaction: ``hook(session, shop_id, applied)``.
ORDERS_APPLIED: list[str] = [
    "worker.supplier.linking:link_applied_orders",  # link the AliExpress orders an order names
    "worker.cancellation.hooks:close_cancel_intents",  # an order showing cancelled closes its cancel intent
    "worker.chargebacks.hooks:link_chargebacks",  # a dispute that arrived before its order is linked to it
    "worker.crosscheck.hooks:check_applied_orders",  # Shopify vs AliExpress disagreements raised or resolved
]

#: The mirror's handler of each non-order webhook topic: ``handler(session, delivery)`` (one per topic).
TOPIC_HANDLERS: list[tuple[tuple[str, ...], str]] = [
    (("refunds/create",), "worker.mirror.topics:refund_created"),
    (FULFILLMENT_ORDER_TOPICS, "worker.mirror.topics:fulfillment_order_changed"),
    (("orders/delete",), "worker.mirror.topics:order_deleted"),
    (("bulk_operations/finish",), "worker.mirror.topics:bulk_finished"),
    (("customers/redact",), "worker.mirror.topics:customer_redact"),
    (("shop/redact",), "worker.mirror.topics:shop_redact"),
    (("customers/data_request",), "worker.mirror.topics:data_request"),
    (RETURN_TOPICS, "worker.returns.hooks:return_changed"),  # the returns workflow reads the return and decides
    (DISPUTE_TOPICS, "worker.chargebacks.hooks:dispute_changed"),  # Shopify Payments disputes into the ledger
]

#: Features' reactions after the mirror handled a topic, same transaction: ``hook(session, delivery)``.
AFTER_TOPIC: list[tuple[tuple[str, ...], str]] = [
    (("refunds/create",), "worker.cancellation.hooks:close_refund_intent"),
    (FO_CANCELLATION_ANSWERED, "worker.cancellation.hooks:fulfillment_service_answered"),
    (FO_CANCELLATION_SUBMITTED, "worker.cancellation.hooks:merchant_asked_the_service_to_cancel"),
    (("refunds/create",), "worker.returns.hooks:refund_closed_a_return_intent"),
]

#: A supplier order changed state, inside the changing transaction: ``callback(session, so, old, new)``.
SUPPLIER_CHANGE: list[str] = [
    "worker.cancellation.hooks:follow_supplier_change",  # the cancellation request follows its supplier orders
    "worker.crosscheck.hooks:check_supplier_change",  # its order's cross-checks run again
]

#: An operator recorded something on a supplier order that moves no state (linked it, opened or resolved a
#: dispute, recorded a refund), same transaction: ``callback(session, so)``.
SUPPLIER_RECORDED: list[str] = [
    "worker.crosscheck.hooks:check_supplier_recorded",  # an alert the record answers resolves at once
]

_wired = False


class Reaction:
    """A callable named ``"module:function"``, imported on its first call."""

    __slots__ = ("_function", "target")

    def __init__(self, target: str) -> None:
        self.target = target
        self._function: Any = None

    def resolve(self) -> Any:
        if self._function is None:
            module, _, name = self.target.partition(":")
            self._function = getattr(importlib.import_module(module), name)
        return self._function

    def __call__(self, *args: Any) -> None:
        self.resolve()(*args)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reaction) and other.target == self.target

    def __hash__(self) -> int:
        return hash(self.target)

    def __repr__(self) -> str:
        return self.target


def wire() -> None:
    """Declare this process wired (idempotent, imports nothing): each dispatcher pulls its table above
    into its registry the first time it runs (``worker.wired.registered`` reads them back)."""
    global _wired
    _wired = True


def is_wired() -> bool:
    return _wired


def require_wired(what: str) -> None:
    """Called by each dispatcher: a process that forgot ``wire()`` must not run without its reactions."""
    if not _wired:
        raise RuntimeError(f"{what}: reactions not wired; the entry point must call worker.wiring.wire() first")


def reactions(table: list[str]) -> list[Reaction]:
    """A table's reactions, each imported on its first call (the dispatchers pull their tables from here:
    this module imports none of them)."""
    return [Reaction(target) for target in table]


def topic_reactions(table: list[tuple[tuple[str, ...], str]]) -> list[tuple[tuple[str, ...], Reaction]]:
    return [(topics, Reaction(target)) for topics, target in table]
