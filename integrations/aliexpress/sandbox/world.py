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
- dispute → ``IN_ISSUE``; resolved with refund → ``FINISH/seller_accept_issue_no_goods_return``,
  without → back to where it was.

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
from integrations.aliexpress.sandbox.clock import SandboxClock


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
    #: Answer for an order number never created here as if it existed, paid, awaiting shipment (demos
    #: beside the Shopify sandbox, whose orders carry AliExpress numbers this sandbox never saw).
    adopt_unknown_orders: bool = False


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
        """The carrier reports delivery (the order stays open until receipt is confirmed or protection ends)."""
        order = self._get(order_id, "WAIT_BUYER_ACCEPT_GOODS")
        for parcel in order.tracking:
            self._track(order, parcel["logistics_no"], "Delivered")

    def confirm_receipt(self, order_id: str) -> None:
        order = self._get(order_id, "WAIT_BUYER_ACCEPT_GOODS")
        order.logistics_status = "BUYER_ACCEPT_GOODS"
        self._finish(order, "buyer_accept_goods")

    def extend_protection(self, order_id: str, days: int) -> None:
        order = self._get(order_id, "WAIT_BUYER_ACCEPT_GOODS", "SELLER_PART_SEND_GOODS")
        if days <= 0 or order.protection_ends_at is None:
            raise SandboxError("an extension needs a positive number of days and a running countdown")
        order.protection_ends_at += dt.timedelta(days=days)
        self._log(order, f"protection extended by {days} days")

    def open_dispute(self, order_id: str) -> None:
        order = self._get(order_id, "WAIT_BUYER_ACCEPT_GOODS", "SELLER_PART_SEND_GOODS", "WAIT_SELLER_SEND_GOODS")
        order.resume_status = order.order_status
        self._move(order, "IN_ISSUE")

    def resolve_dispute(self, order_id: str, *, refund: bool) -> None:
        order = self._get(order_id, "IN_ISSUE")
        if refund:
            self._finish(order, "seller_accept_issue_no_goods_return")
        else:
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
        if order.protection_ends_at and order.order_status in ("WAIT_BUYER_ACCEPT_GOODS", "SELLER_PART_SEND_GOODS"):
            left = max(order.protection_ends_at - now, dt.timedelta(0))
            result["timeout_left_time"] = int(left.total_seconds() * 1000)
        return result

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
        elif status == "WAIT_BUYER_ACCEPT_GOODS" and order.protection_ends_at and now >= order.protection_ends_at:
            order.logistics_status = "BUYER_ACCEPT_GOODS"
            self._finish(order, "buyer_accept_goods_timeout")

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
