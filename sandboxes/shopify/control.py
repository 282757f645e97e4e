"""The control plane, in-process (``sandbox.control``) and over HTTP (``/_sandbox/*``, control_http.py).

Acts as the merchant and the fulfillment service: create orders, move fulfillment along (submit, accept,
reject, fulfill with tracking, answer cancellation requests), touch orders, set fault switches, drain the
throttle bucket, inspect every mutation received per order, read an order as the ledger would compare it,
watch webhook deliveries, and reset to the seeded state.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import events, ids, ledger
from sandboxes.shopify.creation import build_created_order
from sandboxes.shopify.errors import ControlError
from sandboxes.shopify.model import Order, gid, parse_gid
from sandboxes.shopify.mutations import fulfillment as flow
from sandboxes.shopify.snapshot import order_snapshot, return_snapshot

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox


class Control:
    def __init__(self, sandbox: ShopifySandbox) -> None:
        self._sandbox = sandbox
        self._state = sandbox.state

    # --- orders -------------------------------------------------------------------------------------------
    def order_id(self, reference: str | int) -> int:
        """Numeric order id from a gid, a numeric id, or a name like ``#1001``."""
        text = str(reference).strip()
        if text.startswith("gid://"):
            numeric = parse_gid(text, "Order")
        elif text.startswith("#") and text[1:].isdigit():
            numeric = ids.order_id(int(text[1:]) - ids.ORDER_NUMBER_BASE)
        else:
            numeric = int(text) if text.isdigit() else None
        if numeric is None or self._state.get_by_id(numeric) is None:
            raise ControlError(f"no such order: {reference}")
        return numeric

    def _order_for_update(self, reference: str | int) -> Order:
        order = self._state.for_update(ids.order_index(self.order_id(reference)))
        assert order is not None
        return order

    def create_order(self, **options: Any) -> str:
        """Create an order now (see ``creation.build_created_order`` for options). Returns its gid."""
        with self._state.lock:
            index = self._state.total_count
            order = build_created_order(self._state, index, **options)
            self._state.add_created(order)
            topics = ["orders/create"] + (["orders/paid"] if ledger.financial_status(order) == "PAID" else [])
            events.order_changed(self._sandbox, order, topics)
            return gid("Order", order.id)

    def touch_order(self, reference: str | int, note: str | None = None, tags: list[str] | None = None) -> str:
        """Edit an order as a merchant would (note/tags); ``updated_at`` moves and ``orders/updated`` fires."""
        with self._state.lock:
            order = self._order_for_update(reference)
            if note is not None:
                order.note = note
            if tags is not None:
                order.tags = list(tags)
            self._state.touch(order)
            events.order_changed(self._sandbox, order, [])
            return _iso(order)

    def delete_order(self, reference: str | int) -> None:
        """Delete an order as a merchant would (``orders/delete`` fires; it leaves every listing)."""
        with self._state.lock:
            order = self._state.get_by_id(self.order_id(reference))
            assert order is not None
            self._state.delete(order)
            events.order_deleted(self._sandbox, order)

    def snapshot(self, reference: str | int) -> dict[str, Any]:
        """The order as the ledger compares it: statuses, money (strings), quantities, links."""
        with self._state.lock:
            order = self._state.get_by_id(self.order_id(reference))
            assert order is not None
            return order_snapshot(order)

    # --- the fulfillment service's side ---------------------------------------------------------------
    def fulfillment(self, reference: str | int, action: str, **options: Any) -> dict[str, Any]:
        """Advance the order's (first open) fulfillment order.

        Actions: ``submit`` (merchant requests fulfillment), ``accept`` / ``reject`` (the service answers),
        ``fulfill`` (ships, ``tracking_company``/``tracking_number``/``tracking_url``), ``accept_cancellation``
        / ``reject_cancellation`` (the service answers a cancellation request), ``link_supplier``
        (set the ``aliexpress_order_id`` note attribute, ``supplier_order_id``).
        """
        with self._state.lock:
            order = self._order_for_update(reference)
            return flow.control_step(self._sandbox, order, action, **options)

    # --- Shopify Payments disputes (the customer's bank and the card network) ---------------------------
    def open_dispute(self, reference: str | int, **options: Any) -> str:
        """The customer's bank disputes the order's charge: ``type`` (CHARGEBACK, INQUIRY), ``reason``
        (PRODUCT_NOT_RECEIVED …), ``amount`` (default: the order's total), ``network_reason_code``,
        ``evidence_due_in_days``. ``disputes/create`` fires. Returns the dispute's gid."""
        from sandboxes.shopify import disputes

        unknown = sorted(set(options) - disputes.OPEN_OPTIONS)
        if unknown:
            raise ControlError(
                f"unknown dispute field(s) {', '.join(unknown)}; expected {', '.join(sorted(disputes.OPEN_OPTIONS))}"
            )
        with self._state.lock:
            order = self._state.get_by_id(self.order_id(reference))
            assert order is not None
            try:
                return disputes.open_dispute(self._sandbox, order, **options).gid
            except disputes.DisputeError as exc:
                raise ControlError(str(exc)) from None

    def decide_dispute(self, reference: str | int, status: str) -> dict[str, Any]:
        """The card network decides (WON, LOST) or the merchant accepts (ACCEPTED); ``disputes/update`` fires."""
        from sandboxes.shopify import disputes

        with self._state.lock:
            found = disputes.find(self._state, reference)
            if found is None:
                raise ControlError(f"no such dispute: {reference}")
            try:
                disputes.decide(self._sandbox, found, status)
            except disputes.DisputeError as exc:
                raise ControlError(str(exc)) from None
            return self.dispute(found.gid)

    def escalate_dispute(self, reference: str | int, **options: Any) -> dict[str, Any]:
        """The bank turns an inquiry into a chargeback (the same dispute): type CHARGEBACK, NEEDS_RESPONSE again,
        the inquiry's answer cleared, a new ``evidence_due_by`` (ISO-8601 or datetime; default: what a new
        chargeback gets); ``disputes/update`` fires. Only an INQUIRY not yet finalized (``disputes.escalate``)."""
        from sandboxes.shopify import disputes

        unknown = sorted(set(options) - disputes.ESCALATE_OPTIONS)
        if unknown:
            raise ControlError(
                f"unknown escalation field(s) {', '.join(unknown)}; "
                f"expected {', '.join(sorted(disputes.ESCALATE_OPTIONS))}"
            )
        with self._state.lock:
            found = disputes.find(self._state, reference)
            if found is None:
                raise ControlError(f"no such dispute: {reference}")
            try:
                disputes.escalate(self._sandbox, found, **options)
            except disputes.DisputeError as exc:
                raise ControlError(str(exc)) from None
            return self.dispute(found.gid)

    def dispute(self, reference: str | int) -> dict[str, Any]:
        """A dispute as the sandbox holds it, with every evidence submission it received."""
        from sandboxes.shopify import disputes

        with self._state.lock:
            found = disputes.find(self._state, reference)
            order = self._state.get(found.order_index) if found is not None else None
            if found is None or order is None:
                raise ControlError(f"no such dispute: {reference}")
            return disputes.rest_json(found, order) | {
                "id": found.gid, "evidence": dict(found.evidence), "submitted": found.submitted,
                "submissions": list(found.submissions),
            }  # fmt: skip

    # --- returns (the customer's side) -----------------------------------------------------------------
    def return_request(self, reference: str | int, line_items: list[dict[str, Any]] | None = None) -> str:
        """The customer asks for a return in the self-serve portal: the ``returnRequest`` mutation's own code
        (REQUESTED, ``returns/request``). Returns the Return gid.

        Each of ``line_items`` names ``line_item_id`` or ``fulfillment_line_item_id`` (gid or number), with
        ``quantity`` (default: every returnable unit), ``reason`` (a ReturnReason, default UNKNOWN),
        ``customer_note`` and ``reason_note``. No ``line_items``: every returnable unit, reason UNKNOWN.
        """
        from sandboxes.shopify.mutations.returns import create

        with self._state.lock:
            order = self._order_for_update(reference)
            wanted = line_items if line_items is not None else [{"line_item_id": i.id} for i in order.line_items]
            if not all(isinstance(spec, dict) for spec in wanted):
                raise ControlError(
                    "each line item must be an object (line_item_id or fulfillment_line_item_id, quantity)"
                )
            entries = [entry for spec in wanted for entry in _return_entries(order, spec, line_items is None)]
            if not entries:
                raise ControlError(f"order {order.name} has nothing left to return")
            data = {"orderId": gid("Order", order.id), "returnLineItems": entries}
            result = create(self._sandbox, "returnRequest", data, "input", "REQUESTED")
            if result["userErrors"]:
                raise ControlError(str(result["userErrors"][0]["message"]))
            return str(result["return"].id())

    def return_snapshot(self, reference: str) -> dict[str, Any]:
        """A return as tests compare it: status, line quantities, refunds, and the mutations it received."""
        from sandboxes.shopify.returns import ReturnRefused, find_return

        value = reference if str(reference).startswith("gid://") else gid("Return", int(reference))
        with self._state.lock:
            try:
                order, found = find_return(self._state, value, ["id"])
            except ReturnRefused:
                raise ControlError(f"no such return: {reference}") from None
            return return_snapshot(order, found) | {"mutations": self.return_mutation_counts(value)}

    def return_mutation_counts(self, return_gid: str) -> dict[str, dict[str, int]]:
        """Per mutation name, how many calls named this return: ``{"returnProcess": {"calls": 2, "applied": 1}}``."""
        counts: dict[str, dict[str, int]] = {}
        with self._state.lock:
            for record in self._state.mutations:
                if record.detail.get("return") == return_gid:
                    entry = counts.setdefault(record.name, {"calls": 0, "applied": 0})
                    entry["calls"] += 1
                    entry["applied"] += int(record.applied)
        return counts

    # --- what the sandbox received -------------------------------------------------------------------
    def mutations(self, reference: str | int | None = None) -> list[dict[str, Any]]:
        with self._state.lock:
            wanted = gid("Order", self.order_id(reference)) if reference is not None else None
            return [asdict(m) | {"at": m.at.isoformat()} for m in self._state.mutations if wanted in (None, m.order_id)]

    def mutation_counts(self, reference: str | int) -> dict[str, int]:
        """How many of each mutation an order received (refused ones included), e.g. ``{"refundCreate": 1}``."""
        with self._state.lock:
            return dict(self._state.per_order.get(gid("Order", self.order_id(reference)), {}))

    def applied_counts(self, reference: str | int) -> dict[str, int]:
        """Like ``mutation_counts`` but only mutations that changed the order."""
        counts: dict[str, int] = {}
        for record in self.mutations(reference):
            if record["applied"]:
                counts[record["name"]] = counts.get(record["name"], 0) + 1
        return counts

    # --- webhooks -------------------------------------------------------------------------------------
    def subscribe(self, topic: str, url: str) -> str:
        """Subscribe ``url`` to a topic given as REST (``orders/updated``) or enum (``ORDERS_UPDATED``)."""
        from sandboxes.shopify.mutations.subscriptions import create_subscription
        from sandboxes.shopify.webhooks import REST_TOPICS

        enum = REST_TOPICS.get(topic, topic)
        with self._state.lock:
            result = create_subscription(self._sandbox, enum, {"uri": url})
        if result["userErrors"]:
            raise ControlError(result["userErrors"][0]["message"])
        return str(result["webhookSubscription"].id())

    def privacy_webhook(self, topic: str, url: str, order: str | int | None = None) -> str:
        """Send a mandatory privacy webhook (``customers/data_request``, ``customers/redact``, ``shop/redact``)
        to ``url``, signed like any other; the customer and order ids come from ``order``. Returns the
        webhook id. (Shopify sends these to the app's configured URL, not through subscriptions.)"""
        from sandboxes.shopify.payloads import privacy_json

        if topic not in ("customers/data_request", "customers/redact", "shop/redact"):
            raise ControlError(f"not a privacy topic: {topic}")
        with self._state.lock:
            found = self._state.get_by_id(self.order_id(order)) if order is not None else None
            if topic != "shop/redact" and found is None:
                raise ControlError(f"{topic} needs an order (its customer is the subject)")
            body = privacy_json(self._sandbox.config.shop_domain, topic, found, self._state.serial())
        return self._sandbox.webhooks.emit(topic, body, [url])[0]

    def deliveries(self) -> list[dict[str, Any]]:
        return [asdict(a) for a in list(self._sandbox.webhooks.attempts)]

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        return self._sandbox.webhooks.wait_idle(timeout)

    # --- faults, throttle, reset ----------------------------------------------------------------------
    def set_faults(self, **switches: Any) -> dict[str, Any]:
        return asdict(self._sandbox.faults.update(**switches))

    def fail_next(self, kind: str = "error", field: str | None = None, times: int = 1) -> None:
        """One-shot fault on the next ``times`` requests touching root ``field`` (None: any request).

        ``kind``: ``error`` (5xx, nothing runs), ``timeout`` (held ``timeout_seconds``, then runs), ``drop``
        (runs, then the connection is cut: "Shopify applied it, the caller never heard") or ``export_failed``
        (``bulkOperationRunQuery`` is accepted, and its export ends ``FAILED`` with ``INTERNAL_SERVER_ERROR``
        after its first rows, no result file: as Shopify reports an export that broke).
        """
        self._sandbox.faults.add_one_shot(kind, field, times)

    def clear_faults(self) -> dict[str, Any]:
        self._sandbox.faults.clear()
        return asdict(self._sandbox.faults.config)

    def faults(self) -> dict[str, Any]:
        faults = self._sandbox.faults
        pending = [asdict(shot) for shot in faults.one_shots]
        return asdict(faults.config) | {"counts": dict(faults.counts), "one_shots": pending}

    def drain_bucket(self) -> dict[str, float]:
        self._sandbox.bucket.drain()
        return self._sandbox.bucket.status()

    def refill_bucket(self) -> dict[str, float]:
        self._sandbox.bucket.refill()
        return self._sandbox.bucket.status()

    def bucket(self) -> dict[str, float]:
        return self._sandbox.bucket.status()

    def reset(self) -> None:
        """Back to the seeded shop: orders, jobs, subscriptions, webhook log, bucket and faults."""
        self._state.reset()
        self._sandbox.webhooks.clear()
        self._sandbox.bucket.refill()
        self._sandbox.faults.clear()


def _iso(order: Order) -> str:
    return order.updated_at.isoformat()


def _return_entries(order: Order, spec: dict[str, Any], everything: bool) -> list[dict[str, Any]]:
    """``ReturnRequestLineItemInput``s for one control line spec, spread over the fulfillment lines."""
    from sandboxes.shopify.returns import returnable_quantity

    def numeric(value: Any, kind: str) -> int | None:
        text = str(value)
        return parse_gid(text, kind) if text.startswith("gid://") else (int(text) if text.isdigit() else None)

    if spec.get("fulfillment_line_item_id") is not None:
        fli = numeric(spec["fulfillment_line_item_id"], "FulfillmentLineItem")
        if fli is None or order.fulfillment_line(fli) is None:
            raise ControlError(f"no such fulfillment line item on {order.name}: {spec['fulfillment_line_item_id']}")
        candidates = [fli]
    else:
        item_id = numeric(spec.get("line_item_id"), "LineItem")
        if item_id is None or order.line_item(item_id) is None:
            raise ControlError(f"no such line item on {order.name}: {spec.get('line_item_id')}")
        candidates = [line[0] for f in order.fulfillments for line in f.lines if line[1] == item_id]
    available = [(fli, returnable_quantity(order, fli)) for fli in candidates]
    wanted = spec.get("quantity")
    left = sum(quantity for _, quantity in available) if wanted is None else int(wanted)
    if wanted is not None and (left <= 0 or left > sum(quantity for _, quantity in available)):
        raise ControlError(f"cannot return {wanted} unit(s): {sum(q for _, q in available)} returnable")
    entries = []
    for fli, quantity in available:
        take = min(left, quantity)
        if take <= 0:
            continue
        left -= take
        entry: dict[str, Any] = {
            "fulfillmentLineItemId": gid("FulfillmentLineItem", fli),
            "quantity": take,
            "returnReason": str(spec.get("reason") or "UNKNOWN").upper(),
        }
        if spec.get("customer_note") is not None:
            entry["customerNote"] = str(spec["customer_note"])
        if spec.get("reason_note") is not None:
            entry["returnReasonNote"] = str(spec["reason_note"])
        entries.append(entry)
    if not entries and not everything:
        raise ControlError(f"nothing returnable on {order.name} for {spec}")
    return entries
