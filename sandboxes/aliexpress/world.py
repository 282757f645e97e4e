"""The sandbox's state: supplier orders and their lifecycle on a controlled clock.

Lifecycle (AliExpress's order statuses, DOMAIN.md §3), with the timers the real platform runs:

- ``PLACE_ORDER_SUCCESS`` --pay--> ``RISK_CONTROL`` (24 h) --> ``WAIT_SELLER_SEND_GOODS``; unpaid after
  ``pay_timeout`` → ``FINISH/buyer_pay_timeout``; risk rejected → ``FINISH/risk_reject_closed``.
- not shipped within the handling time → ``FINISH/seller_send_goods_timeout`` (full refund).
- cancellation request → ``IN_CANCEL``; seller accepts → ``FINISH/buyer_cancel_order``; refuses → back
  to awaiting shipment; silent for ``seller_silence`` (48 h) → ``FINISH/buyer_cancel_order``.
- ship (all or part) → ``WAIT_BUYER_ACCEPT_GOODS`` / ``SELLER_PART_SEND_GOODS``; protection counts down
  from shipment, the seller can extend it; receipt confirmed → ``FINISH/buyer_accept_goods``; the
  countdown ends → ``FINISH/buyer_accept_goods_timeout``.
- the carrier delivers (``deliver``, or by itself ``delivery_days`` after shipment when set): the
  ``logistics_status`` becomes ``DELIVERED`` while the order stays ``WAIT_BUYER_ACCEPT_GOODS`` (receipt not
  confirmed yet) and the tracking gets a "Delivered" event.
- dispute → ``IN_ISSUE``: from shipment (any reason), and after completion (``FINISH/buyer_accept_goods`` or
  ``…_timeout``) for damaged / not as described / wrong item / quality within ``dispute_days_after_completion``
  (15) days. Outcomes: ``refund`` (full) → ``FINISH/seller_accept_issue_no_goods_return``; ``partial_refund``
  (an amount) and ``rejected`` → back to where it was; ``return_to_seller`` → stays ``IN_ISSUE`` until the
  seller receives the goods back (``return_received``) → ``FINISH/seller_accept_issue_goods_return``; a
  seller silent for ``dispute_answer_days`` (when set) loses: full refund. The
  dispute (``issue_status``, ``issue_info`` with reason, outcome and refund amount) is shown on the order.

Timers fire lazily: whenever the world is read or changed, every order first catches up with the clock.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from integrations.aliexpress.parsing import format_gateway_time
from sandboxes.aliexpress.clock import SandboxClock

#: The carrier's delivery scan in ``logistics_status`` (the buyer has not confirmed receipt yet).
CARRIER_DELIVERED = "DELIVERED"


class SandboxError(Exception):
    """A control call that makes no sense in the order's current status."""


@dataclass(frozen=True)
class AliExpressSandboxConfig:
    seed: int = 0
    app_key: str = "sandbox-app"
    app_secret: str = "sandbox-secret"
    access_token: str = "sandbox-token"
    refresh_token: str = "sandbox-refresh"
    gateway_timezone: str = "America/Los_Angeles"
    pay_timeout: dt.timedelta = dt.timedelta(days=3)
    risk_check: dt.timedelta = dt.timedelta(hours=24)
    auto_pass_risk_check: bool = True
    handling_days: int = 7
    seller_silence: dt.timedelta = dt.timedelta(hours=48)
    protection_days: int = 60
    demo_orders: int = 0
    #: Days from shipment to the carrier's delivery scan (None: only when ``deliver`` is called).
    delivery_days: float | None = None
    #: AliExpress: a dispute can be opened until 15 days after the order completed.
    dispute_days_after_completion: int = 15
    #: Days the seller has to answer a dispute before AliExpress refunds the buyer in full (None: never).
    dispute_answer_days: float | None = None
    #: Answer for an order number never created here as if it existed, paid, awaiting shipment (demos
    #: beside the Shopify sandbox, whose orders carry AliExpress numbers this sandbox never saw).
    adopt_unknown_orders: bool = False


AFTER_RECEIPT_REASONS = frozenset({"damaged", "not_as_described", "wrong_item", "quality"})
DISPUTE_REASONS = AFTER_RECEIPT_REASONS | {"not_received", "late", "invalid_tracking", "returned_to_seller", "other"}
DISPUTE_OUTCOMES = ("refund", "partial_refund", "return_to_seller", "rejected")
COMPLETION_REASONS = frozenset({"buyer_accept_goods", "buyer_accept_goods_timeout"})


@dataclass
class Dispute:
    """The order's dispute as the buyer's dispute page shows it (there is no dispute API for dropshippers)."""

    reason: str
    opened_at: dt.datetime
    status: str = "IN_ISSUE"  # IN_ISSUE, END_ISSUE
    outcome: str | None = None
    refund_amount: Decimal | None = None
    return_required: bool = False
    closed_at: dt.datetime | None = None


@dataclass
class SandboxOrder:
    order_id: str
    amount: Decimal
    currency: str
    created_at: dt.datetime
    handling_days: int
    protection_days: int
    order_status: str = "PLACE_ORDER_SUCCESS"
    end_reason: str | None = None
    logistics_status: str = "NO_LOGISTICS"
    paid_at: dt.datetime | None = None
    risk_until: dt.datetime | None = None
    ship_by: dt.datetime | None = None
    cancel_deadline: dt.datetime | None = None
    protection_ends_at: dt.datetime | None = None
    resume_status: str | None = None
    resume_end_reason: str | None = None
    shipped_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    issue: Dispute | None = None
    tracking: list[dict[str, Any]] = field(default_factory=list)
    history: list[tuple[dt.datetime, str]] = field(default_factory=list)


class World:
    """All orders and faults; every public method holds the lock and catches the timers up first."""

    def __init__(self, config: AliExpressSandboxConfig, clock: SandboxClock) -> None:
        self.config = config
        self.clock = clock
        self.tz = ZoneInfo(config.gateway_timezone)
        self.lock = threading.RLock()
        self.orders: dict[str, SandboxOrder] = {}
        self.access_token = config.access_token
        self.refresh_token = config.refresh_token
        self._random = random.Random(config.seed)
        self._token_generation = 0

    # -- creation -----------------------------------------------------------------------------------

    def new_order_id(self) -> str:
        while True:
            candidate = str(self._random.randrange(8_100_000_000_000_000, 8_199_999_999_999_999))
            if candidate not in self.orders:
                return candidate

    def create_order(
        self,
        amount: Decimal | str = "10.00",
        currency: str = "USD",
        *,
        order_id: str | None = None,
        handling_days: int | None = None,
        protection_days: int | None = None,
    ) -> str:
        with self.lock:
            oid = order_id or self.new_order_id()
            if oid in self.orders:
                raise SandboxError(f"order {oid} exists")
            order = SandboxOrder(
                order_id=oid,
                amount=Decimal(str(amount)),
                currency=currency,
                created_at=self.clock.now(),
                handling_days=handling_days if handling_days is not None else self.config.handling_days,
                protection_days=protection_days if protection_days is not None else self.config.protection_days,
            )
            self.orders[oid] = order
            self._log(order, "placed")
            return oid

    # -- lifecycle ----------------------------------------------------------------------------------

    def pay(self, order_id: str) -> None:
        order = self._get(order_id, "PLACE_ORDER_SUCCESS")
        now = self.clock.now()
        order.paid_at, order.risk_until = now, now + self.config.risk_check
        self._move(order, "RISK_CONTROL")

    def pass_risk_check(self, order_id: str) -> None:
        order = self._get(order_id, "RISK_CONTROL")
        self._clear_risk(order, self.clock.now())

    def reject_risk_check(self, order_id: str) -> None:
        self._finish(self._get(order_id, "RISK_CONTROL"), "risk_reject_closed")

    def ship(self, order_id: str, tracking_number: str, *, partial: bool = False, carrier: str = "CAINIAO") -> None:
        order = self._get(order_id, "WAIT_SELLER_SEND_GOODS", "SELLER_PART_SEND_GOODS", "IN_CANCEL")
        now = self.clock.now()
        order.tracking.append({"logistics_no": tracking_number, "logistics_service": carrier, "events": []})
        self._track(order, tracking_number, "Shipment accepted by the carrier")
        order.shipped_at = order.shipped_at or now
        if order.protection_ends_at is None:
            order.protection_ends_at = now + dt.timedelta(days=order.protection_days)
        order.logistics_status = "SELLER_SEND_PART_GOODS" if partial else "SELLER_SEND_GOODS"
        order.cancel_deadline = None
        self._move(order, "SELLER_PART_SEND_GOODS" if partial else "WAIT_BUYER_ACCEPT_GOODS")

    def request_cancellation(self, order_id: str) -> None:
        order = self._get(order_id, "WAIT_SELLER_SEND_GOODS", "RISK_CONTROL")
        order.resume_status = order.order_status
        order.cancel_deadline = self.clock.now() + self.config.seller_silence
        self._move(order, "IN_CANCEL")

    def seller_accepts_cancellation(self, order_id: str) -> None:
        self._finish(self._get(order_id, "IN_CANCEL"), "buyer_cancel_order")

    def seller_refuses_cancellation(self, order_id: str) -> None:
        order = self._get(order_id, "IN_CANCEL")
        order.cancel_deadline = None
        self._move(order, order.resume_status or "WAIT_SELLER_SEND_GOODS")

    def deliver(self, order_id: str) -> None:
        """The carrier reports delivery: ``logistics_status`` ``DELIVERED``; the order stays open until receipt
        is confirmed or protection ends."""
        order = self._get(order_id, "WAIT_BUYER_ACCEPT_GOODS")
        self._delivered(order, self.clock.now())

    def _delivered(self, order: SandboxOrder, at: dt.datetime) -> None:
        if order.delivered_at is not None:
            return
        order.delivered_at = at
        order.logistics_status = CARRIER_DELIVERED
        for parcel in order.tracking:
            parcel["events"].append((at, "Delivered"))
        order.history.append((at, "delivered by the carrier"))

    def confirm_receipt(self, order_id: str) -> None:
        order = self._get(order_id, "WAIT_BUYER_ACCEPT_GOODS")
        order.logistics_status = "BUYER_ACCEPT_GOODS"
        order.completed_at = self.clock.now()
        self._finish(order, "buyer_accept_goods")

    def extend_protection(self, order_id: str, days: int) -> None:
        order = self._get(order_id, "WAIT_BUYER_ACCEPT_GOODS", "SELLER_PART_SEND_GOODS")
        if days <= 0 or order.protection_ends_at is None:
            raise SandboxError("an extension needs a positive number of days and a running countdown")
        order.protection_ends_at += dt.timedelta(days=days)
        self._log(order, f"protection extended by {days} days")

    def open_dispute(self, order_id: str, reason: str = "not_received") -> None:
        """Open a dispute: from shipment for any reason; after completion for damaged / not as described /
        wrong item / quality, until ``dispute_days_after_completion`` days after completion."""
        if reason not in DISPUTE_REASONS:
            raise SandboxError(f"unknown dispute reason {reason!r} (use {', '.join(sorted(DISPUTE_REASONS))})")
        open_statuses = ("WAIT_BUYER_ACCEPT_GOODS", "SELLER_PART_SEND_GOODS", "WAIT_SELLER_SEND_GOODS")
        order = self._get(order_id, *open_statuses, "FINISH")
        now = self.clock.now()
        if order.order_status == "FINISH":
            self._check_after_completion(order, reason, now)
        order.resume_status, order.resume_end_reason = order.order_status, order.end_reason
        order.end_reason = None
        order.issue = Dispute(reason, now)
        self._move(order, "IN_ISSUE")

    def _check_after_completion(self, order: SandboxOrder, reason: str, now: dt.datetime) -> None:
        if order.end_reason not in COMPLETION_REASONS or order.completed_at is None:
            raise SandboxError(f"order {order.order_id} closed without the goods ({order.end_reason}): no dispute")
        if reason not in AFTER_RECEIPT_REASONS:
            raise SandboxError(f"after receipt only {', '.join(sorted(AFTER_RECEIPT_REASONS))} can be disputed")
        window_end = order.completed_at + dt.timedelta(days=self.config.dispute_days_after_completion)
        if now > window_end:
            raise SandboxError(f"the dispute window of order {order.order_id} closed on {window_end.isoformat()}")
        if order.issue is not None:
            raise SandboxError(f"order {order.order_id} was already disputed")

    def resolve_dispute(
        self,
        order_id: str,
        *,
        refund: bool | None = None,
        outcome: str | None = None,
        amount: Decimal | str | None = None,
    ) -> None:
        """Settle the dispute: ``outcome`` refund / partial_refund (``amount``) / return_to_seller / rejected
        (``refund=True`` is ``refund``, ``refund=False`` is ``rejected``)."""
        chosen = outcome or ("refund" if refund else "rejected")
        if chosen not in DISPUTE_OUTCOMES:
            raise SandboxError(f"unknown dispute outcome {chosen!r} (use {', '.join(DISPUTE_OUTCOMES)})")
        order = self._get(order_id, "IN_ISSUE")
        issue = order.issue or Dispute("not_received", self.clock.now())
        order.issue = issue
        if issue.return_required:
            raise SandboxError(f"order {order_id} awaits the goods back at the seller (return_received)")
        value = self._refund_amount(order, chosen, amount)
        now = self.clock.now()
        issue.outcome, issue.refund_amount = chosen, value
        if chosen == "return_to_seller":
            issue.return_required = True
            self._log(order, "dispute: return to seller required")
            return
        issue.status, issue.closed_at = "END_ISSUE", now
        if chosen == "refund":
            self._finish(order, "seller_accept_issue_no_goods_return")
        else:
            self._resume(order)

    def return_received(self, order_id: str) -> None:
        """The seller received the disputed goods back: the agreed refund is paid and the order closes."""
        order = self._get(order_id, "IN_ISSUE")
        if order.issue is None or not order.issue.return_required:
            raise SandboxError(f"order {order_id} has no return to the seller pending")
        order.issue.return_required, order.issue.status, order.issue.closed_at = False, "END_ISSUE", self.clock.now()
        self._finish(order, "seller_accept_issue_goods_return")

    def _refund_amount(self, order: SandboxOrder, outcome: str, amount: Decimal | str | None) -> Decimal:
        if outcome == "rejected":
            return Decimal("0.00")
        if amount is None or amount == "":
            if outcome == "partial_refund":
                raise SandboxError("a partial refund needs an amount")
            return order.amount
        try:
            value = Decimal(str(amount)).quantize(Decimal("0.01"))
        except ArithmeticError:
            raise SandboxError(f"unreadable amount {amount!r}") from None
        if not Decimal("0") < value <= order.amount:
            raise SandboxError(f"refund amount {value} must be above 0 and at most the order's {order.amount}")
        if outcome == "partial_refund" and value == order.amount:
            raise SandboxError("a partial refund is less than the order amount (use outcome refund)")
        return value

    def _resume(self, order: SandboxOrder) -> None:
        order.end_reason = order.resume_end_reason
        self._move(order, order.resume_status or "WAIT_BUYER_ACCEPT_GOODS")

    def force_status(self, order_id: str, order_status: str, end_reason: str | None = None) -> None:
        """Put any raw value on an order (tests of unknown statuses)."""
        order = self._get(order_id)
        order.end_reason = end_reason
        self._move(order, order_status)

    # -- reading ------------------------------------------------------------------------------------

    def order(self, order_id: str) -> SandboxOrder:
        return self._get(order_id)

    def order_result(self, order_id: str) -> dict[str, Any] | None:
        """The ``result`` object of ``aliexpress.trade.ds.order.get`` (None: no such order)."""
        with self.lock:
            self.catch_up()
            order = self.orders.get(order_id)
            if order is None and self.config.adopt_unknown_orders and order_id.isdigit():
                order = self._adopt(order_id)
            if order is None:
                return None
            return self._result(order)

    def tracking_result(self, order_id: str) -> dict[str, Any] | None:
        with self.lock:
            self.catch_up()
            order = self.orders.get(order_id)
            if order is None:
                return None
            lines = [
                {
                    "mail_no": parcel["logistics_no"],
                    "carrier_name": parcel["logistics_service"],
                    "detail_node_list": {
                        "detail_node": [
                            {"time_stamp": int(at.timestamp() * 1000), "tracking_detail_desc": text}
                            for at, text in parcel["events"]
                        ]
                    },
                }
                for parcel in order.tracking
            ]
            return {"ret": True, "data": {"tracking_detail_line_list": {"tracking_detail": lines}}}

    def _result(self, order: SandboxOrder) -> dict[str, Any]:
        now = self.clock.now()
        result: dict[str, Any] = {
            "order_status": order.order_status,
            "logistics_status": order.logistics_status,
            "gmt_create": format_gateway_time(order.created_at, self.tz),
            "order_amount": {"amount": f"{order.amount:.2f}", "currency_code": order.currency},
            "child_order_list": {"ae_child_order_info": [{"product_count": 1, "product_id": 1005000000000000}]},
        }
        if order.end_reason:
            result["end_reason"] = order.end_reason
        if order.paid_at:
            result["gmt_pay_time"] = format_gateway_time(order.paid_at, self.tz)
        if order.tracking:
            result["logistics_info_list"] = {
                "ae_order_logistics_info": [
                    {"logistics_no": p["logistics_no"], "logistics_service": p["logistics_service"]}
                    for p in order.tracking
                ]
            }
        result["issue_status"] = order.issue.status if order.issue else "NO_ISSUE"
        if order.issue is not None:
            result["issue_info"] = self._issue_info(order, order.issue)
        if order.protection_ends_at and order.order_status in ("WAIT_BUYER_ACCEPT_GOODS", "SELLER_PART_SEND_GOODS"):
            left = max(order.protection_ends_at - now, dt.timedelta(0))
            result["timeout_left_time"] = int(left.total_seconds() * 1000)
        return result

    def _issue_info(self, order: SandboxOrder, issue: Dispute) -> dict[str, Any]:
        info: dict[str, Any] = {
            "issue_reason": issue.reason,
            "issue_status": issue.status,
            "gmt_create": format_gateway_time(issue.opened_at, self.tz),
            "return_goods_required": issue.return_required,
        }
        if issue.outcome is not None:
            info["issue_result"] = issue.outcome
        if issue.refund_amount is not None:
            info["refund_amount"] = {"amount": f"{issue.refund_amount:.2f}", "currency_code": order.currency}
        if issue.closed_at is not None:
            info["gmt_modified"] = format_gateway_time(issue.closed_at, self.tz)
        return info

    def _adopt(self, order_id: str) -> SandboxOrder:
        amount = Decimal(int(order_id[-4:]) % 5000 + 199) / 100  # stable per number: 1.99 .. 51.98
        self.create_order(amount, order_id=order_id)
        order = self.orders[order_id]
        now = self.clock.now()
        order.paid_at = now
        self._clear_risk(order, now)
        return order

    # -- timers -------------------------------------------------------------------------------------

    def catch_up(self) -> None:
        """Fire every timer that has come due on the clock."""
        with self.lock:
            now = self.clock.now()
            for order in self.orders.values():
                self._catch_up_order(order, now)

    def _catch_up_order(self, order: SandboxOrder, now: dt.datetime) -> None:
        status = order.order_status
        if status == "PLACE_ORDER_SUCCESS" and now >= order.created_at + self.config.pay_timeout:
            self._finish(order, "buyer_pay_timeout")
        elif status == "RISK_CONTROL" and self._risk_cleared(order, now):
            assert order.risk_until is not None
            self._clear_risk(order, order.risk_until)
            self._catch_up_order(order, now)
        elif status == "WAIT_SELLER_SEND_GOODS" and order.ship_by and now >= order.ship_by:
            self._finish(order, "seller_send_goods_timeout")
        elif status == "IN_CANCEL" and order.cancel_deadline and now >= order.cancel_deadline:
            # The seller stayed silent: AliExpress cancels on the buyer's request.
            self._finish(order, "buyer_cancel_order")
        elif status == "WAIT_BUYER_ACCEPT_GOODS":
            due = self._delivery_due(order)
            if due is not None and now >= due and (order.protection_ends_at is None or due < order.protection_ends_at):
                self._delivered(order, due)
            if order.protection_ends_at and now >= order.protection_ends_at:
                order.logistics_status = "BUYER_ACCEPT_GOODS"
                order.completed_at = order.protection_ends_at
                self._finish(order, "buyer_accept_goods_timeout")

        elif status == "IN_ISSUE" and order.issue is not None and not order.issue.return_required:
            days = self.config.dispute_answer_days
            due = order.issue.opened_at + dt.timedelta(days=days) if days is not None else None
            if due is not None and now >= due:
                # The seller stayed silent: AliExpress decides for the buyer.
                order.issue.outcome, order.issue.refund_amount = "refund", order.amount
                order.issue.status, order.issue.closed_at = "END_ISSUE", due
                self._finish(order, "seller_accept_issue_no_goods_return")

    def _delivery_due(self, order: SandboxOrder) -> dt.datetime | None:
        days = self.config.delivery_days
        if days is None or order.shipped_at is None or order.delivered_at is not None:
            return None
        return order.shipped_at + dt.timedelta(days=days)

    # -- helpers ------------------------------------------------------------------------------------

    def _risk_cleared(self, order: SandboxOrder, now: dt.datetime) -> bool:
        return self.config.auto_pass_risk_check and order.risk_until is not None and now >= order.risk_until

    def _clear_risk(self, order: SandboxOrder, at: dt.datetime) -> None:
        # Handling time: the sandbox counts calendar days (the worker's business-day rule is its own).
        order.ship_by = at + dt.timedelta(days=order.handling_days)
        order.logistics_status = "WAIT_SELLER_SEND_GOODS"
        self._move(order, "WAIT_SELLER_SEND_GOODS")

    def _get(self, order_id: str, *allowed: str) -> SandboxOrder:
        with self.lock:
            self.catch_up()
            order = self.orders.get(order_id)
            if order is None and self.config.adopt_unknown_orders and order_id.isdigit():
                order = self._adopt(order_id)  # as the gateway does: the seller acts on it before any poll
            if order is None:
                raise SandboxError(f"no order {order_id}")
            if allowed and order.order_status not in allowed:
                raise SandboxError(f"order {order_id} is {order.order_status}, not {' or '.join(allowed)}")
            return order

    def _move(self, order: SandboxOrder, status: str) -> None:
        order.order_status = status
        self._log(order, status)

    def _finish(self, order: SandboxOrder, end_reason: str) -> None:
        order.end_reason = end_reason
        order.cancel_deadline = None
        self._move(order, "FINISH")

    def _track(self, order: SandboxOrder, tracking_number: str, text: str) -> None:
        for parcel in order.tracking:
            if parcel["logistics_no"] == tracking_number:
                parcel["events"].append((self.clock.now(), text))

    def _log(self, order: SandboxOrder, what: str) -> None:
        order.history.append((self.clock.now(), what))

    # -- tokens -------------------------------------------------------------------------------------

    def expire_token(self) -> None:
        with self.lock:
            self.access_token = f"expired-{self.access_token}"

    def rotate_tokens(self) -> tuple[str, str]:
        with self.lock:
            self._token_generation += 1
            self.access_token = f"{self.config.access_token}-{self._token_generation}"
            self.refresh_token = f"{self.config.refresh_token}-{self._token_generation}"
            return self.access_token, self.refresh_token
