"""AliExpress sandbox after shipment: the carrier's delivery in ``logistics_status`` (by control call and on the
sandbox clock), disputes after receipt within the window, and their outcomes as ``order.get`` shows them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandboxes.aliexpress import AliExpressSandbox, AliExpressSandboxConfig
from sandboxes.aliexpress.world import SandboxError


def _read(sb: AliExpressSandbox, oid: str) -> tuple[str, str | None, str | None, dict[str, Any]]:
    with sb.client() as client:
        order = client.get_order(oid)
    return order.order_status, order.end_reason, order.logistics_status, dict(order.raw)


def _received(sb: AliExpressSandbox, amount: str = "20.00") -> str:
    oid = sb.paid_order(amount)
    sb.ship(oid, "LP1")
    sb.clock.advance(days=10)
    sb.deliver(oid)
    sb.confirm_receipt(oid)
    return oid


def test_carrier_delivery_is_reported_while_the_order_stays_open(aliexpress_sandbox: AliExpressSandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.ship(oid, "LP1")
    assert _read(sb, oid)[:3] == ("WAIT_BUYER_ACCEPT_GOODS", None, "SELLER_SEND_GOODS")
    sb.clock.advance(days=8)
    sb.deliver(oid)
    status, end_reason, logistics, raw = _read(sb, oid)
    assert (status, end_reason, logistics) == ("WAIT_BUYER_ACCEPT_GOODS", None, "DELIVERED")
    assert raw["issue_status"] == "NO_ISSUE"
    assert raw["timeout_left_time"] > 0  # protection still counts down: the buyer has not confirmed receipt
    with sb.client() as client:
        (parcel,) = client.get_tracking(oid)
    assert parcel.events[-1].description == "Delivered"
    sb.confirm_receipt(oid)
    assert _read(sb, oid)[:3] == ("FINISH", "buyer_accept_goods", "BUYER_ACCEPT_GOODS")


def test_carrier_delivers_on_the_sandbox_clock() -> None:
    sb = AliExpressSandbox(AliExpressSandboxConfig(seed=3, delivery_days=6))
    oid = sb.paid_order()
    sb.ship(oid, "LP9")
    shipped = sb.clock.now()
    sb.clock.advance(days=5)
    assert sb.world.order_result(oid)["logistics_status"] == "SELLER_SEND_GOODS"  # type: ignore[index]
    sb.clock.advance(days=2)
    result = sb.world.order_result(oid)
    assert result is not None
    assert (result["order_status"], result["logistics_status"]) == ("WAIT_BUYER_ACCEPT_GOODS", "DELIVERED")
    assert sb.order(oid).delivered_at == shipped + dt.timedelta(days=6)
    # Protection still ends the order as received, at its own deadline.
    sb.clock.advance(days=60)
    result = sb.world.order_result(oid)
    assert result is not None
    assert (result["order_status"], result["end_reason"]) == ("FINISH", "buyer_accept_goods_timeout")
    assert sb.order(oid).completed_at == sb.order(oid).protection_ends_at


def test_damaged_after_receipt_partial_refund(aliexpress_sandbox: AliExpressSandbox) -> None:
    sb = aliexpress_sandbox
    oid = _received(sb, "20.00")
    sb.clock.advance(days=14)
    sb.open_dispute(oid, "damaged")
    status, end_reason, _, raw = _read(sb, oid)
    assert (status, end_reason) == ("IN_ISSUE", None)
    assert raw["issue_status"] == "IN_ISSUE"
    assert raw["issue_info"]["issue_reason"] == "damaged"
    with pytest.raises(SandboxError, match="partial refund needs an amount"):
        sb.resolve_dispute(oid, outcome="partial_refund")
    with pytest.raises(SandboxError, match="at most"):
        sb.resolve_dispute(oid, outcome="partial_refund", amount="25")
    sb.resolve_dispute(oid, outcome="partial_refund", amount="7.5")
    status, end_reason, _, raw = _read(sb, oid)
    assert (status, end_reason) == ("FINISH", "buyer_accept_goods")
    assert raw["issue_status"] == "END_ISSUE"
    assert raw["issue_info"]["issue_result"] == "partial_refund"
    assert raw["issue_info"]["refund_amount"] == {"amount": "7.50", "currency_code": "USD"}


def test_full_refund_after_receipt_closes_as_refunded(aliexpress_sandbox: AliExpressSandbox) -> None:
    sb = aliexpress_sandbox
    oid = _received(sb, "12.34")
    sb.open_dispute(oid, "not_as_described")
    sb.resolve_dispute(oid, outcome="refund")
    status, end_reason, _, raw = _read(sb, oid)
    assert (status, end_reason) == ("FINISH", "seller_accept_issue_no_goods_return")
    assert Decimal(raw["issue_info"]["refund_amount"]["amount"]) == Decimal("12.34")


def test_return_to_seller_then_refund(aliexpress_sandbox: AliExpressSandbox) -> None:
    sb = aliexpress_sandbox
    oid = _received(sb)
    sb.open_dispute(oid, "wrong_item")
    sb.resolve_dispute(oid, outcome="return_to_seller")
    status, _, _, raw = _read(sb, oid)
    assert status == "IN_ISSUE"
    assert raw["issue_info"]["return_goods_required"] is True
    with pytest.raises(SandboxError, match="awaits the goods back"):
        sb.resolve_dispute(oid, outcome="refund")
    sb.return_received(oid)
    status, end_reason, _, raw = _read(sb, oid)
    assert (status, end_reason) == ("FINISH", "seller_accept_issue_goods_return")
    assert raw["issue_info"]["return_goods_required"] is False
    assert raw["issue_info"]["refund_amount"]["amount"] == "20.00"


def test_after_receipt_disputes_are_limited_by_reason_and_window(aliexpress_sandbox: AliExpressSandbox) -> None:
    sb = aliexpress_sandbox
    oid = _received(sb)
    with pytest.raises(SandboxError, match="after receipt only"):
        sb.open_dispute(oid, "not_received")
    sb.clock.advance(days=15, hours=1)
    with pytest.raises(SandboxError, match="dispute window"):
        sb.open_dispute(oid, "damaged")
    cancelled = sb.paid_order()
    sb.request_cancellation(cancelled)
    sb.seller_accepts_cancellation(cancelled)
    with pytest.raises(SandboxError, match="closed without the goods"):
        sb.open_dispute(cancelled, "damaged")
    rejected = _received(sb)
    sb.open_dispute(rejected, "quality")
    sb.resolve_dispute(rejected, refund=False)
    assert _read(sb, rejected)[:2] == ("FINISH", "buyer_accept_goods")
    assert _read(sb, rejected)[3]["issue_info"]["refund_amount"]["amount"] == "0.00"


def test_control_endpoints_over_http(aliexpress_sandbox: AliExpressSandbox) -> None:
    sb = aliexpress_sandbox
    base = sb.base_url
    oid = sb.paid_order("30.00")
    assert httpx.post(f"{base}/_sandbox/orders/{oid}/ship", json={"tracking_number": "LP5"}).status_code == 200
    delivered = httpx.post(f"{base}/_sandbox/orders/{oid}/deliver").json()
    assert (delivered["order_status"], delivered["logistics_status"]) == ("WAIT_BUYER_ACCEPT_GOODS", "DELIVERED")
    httpx.post(f"{base}/_sandbox/orders/{oid}/confirm-receipt")
    bad = httpx.post(f"{base}/_sandbox/orders/{oid}/open-dispute", json={"reason": "not_received"})
    assert bad.status_code == 409
    assert "after receipt only" in bad.json()["error"]
    opened = httpx.post(f"{base}/_sandbox/orders/{oid}/open-dispute", json={"reason": "damaged"}).json()
    assert opened["order_status"] == "IN_ISSUE"
    settled = httpx.post(
        f"{base}/_sandbox/orders/{oid}/resolve-dispute", json={"outcome": "partial_refund", "amount": "10"}
    ).json()
    assert settled["issue_info"]["refund_amount"]["amount"] == "10.00"
    assert settled["order_status"] == "FINISH"


def test_a_silent_seller_loses_the_dispute_when_configured() -> None:
    sb = AliExpressSandbox(AliExpressSandboxConfig(seed=4, dispute_answer_days=15))
    with sb.serve():
        oid = _received(sb, "9.99")
        sb.open_dispute(oid, "damaged")
        sb.clock.advance(days=14)
        assert _read(sb, oid)[0] == "IN_ISSUE"
        sb.clock.advance(days=2)
        status, end_reason, _, raw = _read(sb, oid)
    assert (status, end_reason) == ("FINISH", "seller_accept_issue_no_goods_return")
    assert raw["issue_info"]["issue_result"] == "refund"
    assert raw["issue_info"]["refund_amount"]["amount"] == "9.99"
