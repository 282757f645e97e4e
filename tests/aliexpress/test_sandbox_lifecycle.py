"""The sandbox simulates AliExpress's lifecycle on a controlled clock, seen through the real client."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from sandboxes.aliexpress import AliExpressSandbox, AliExpressSandboxConfig, SandboxError


def _status(sb, oid: str) -> tuple[str, str | None]:
    with sb.client() as client:
        order = client.get_order(oid)
    return order.order_status, order.end_reason


def test_unpaid_order_auto_cancels(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.create_order()
    assert _status(sb, oid) == ("PLACE_ORDER_SUCCESS", None)
    sb.clock.advance(days=3)
    assert _status(sb, oid) == ("FINISH", "buyer_pay_timeout")


def test_payment_risk_check_then_awaiting_shipment(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.create_order()
    sb.pay(oid)
    assert _status(sb, oid) == ("RISK_CONTROL", None)
    sb.clock.advance(hours=23)
    assert _status(sb, oid) == ("RISK_CONTROL", None)
    sb.clock.advance(hours=1)
    assert _status(sb, oid) == ("WAIT_SELLER_SEND_GOODS", None)


def test_risk_rejection_closes_with_refund(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.create_order()
    sb.pay(oid)
    sb.reject_risk_check(oid)
    assert _status(sb, oid) == ("FINISH", "risk_reject_closed")


def test_handling_time_expiry_auto_closes(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order(handling_days=7)
    sb.clock.advance(days=6, hours=23)
    assert _status(sb, oid) == ("WAIT_SELLER_SEND_GOODS", None)
    sb.clock.advance(hours=1)
    assert _status(sb, oid) == ("FINISH", "seller_send_goods_timeout")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("accept", ("FINISH", "buyer_cancel_order")),
        ("refuse", ("WAIT_SELLER_SEND_GOODS", None)),
        ("silent", ("FINISH", "buyer_cancel_order")),
    ],
)
def test_cancellation_request_answers(aliexpress_sandbox, answer: str, expected: tuple[str, str | None]) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.request_cancellation(oid)
    assert _status(sb, oid) == ("IN_CANCEL", None)
    if answer == "accept":
        sb.seller_accepts_cancellation(oid)
    elif answer == "refuse":
        sb.seller_refuses_cancellation(oid)
    else:
        sb.clock.advance(hours=47)
        assert _status(sb, oid) == ("IN_CANCEL", None)
        sb.clock.advance(hours=1)
    assert _status(sb, oid) == expected


def test_cannot_cancel_after_shipment(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.ship(oid, "LP1")
    with pytest.raises(SandboxError, match="WAIT_BUYER_ACCEPT_GOODS"):
        sb.request_cancellation(oid)


def test_protection_countdown_extension_and_expiry(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order(protection_days=60)
    sb.ship(oid, "LP1")
    with sb.client() as client:
        assert client.get_order(oid).protection_left == dt.timedelta(days=60)
        sb.clock.advance(days=50)
        sb.extend_protection(oid, 15)
        assert client.get_order(oid).protection_left == dt.timedelta(days=25)
        sb.clock.advance(days=25)
        order = client.get_order(oid)
    assert (order.order_status, order.end_reason) == ("FINISH", "buyer_accept_goods_timeout")
    assert order.protection_left is None


def test_partial_shipment_then_confirmed_receipt(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.ship(oid, "LP1", partial=True)
    assert _status(sb, oid) == ("SELLER_PART_SEND_GOODS", None)
    sb.ship(oid, "LP2")
    sb.confirm_receipt(oid)
    with sb.client() as client:
        order = client.get_order(oid)
    assert (order.order_status, order.end_reason, order.logistics_status) == (
        "FINISH",
        "buyer_accept_goods",
        "BUYER_ACCEPT_GOODS",
    )
    assert order.tracking_numbers == ("LP1", "LP2")


@pytest.mark.parametrize(
    ("refund", "expected"),
    [(True, ("FINISH", "seller_accept_issue_no_goods_return")), (False, ("WAIT_BUYER_ACCEPT_GOODS", None))],
)
def test_dispute_and_resolution(aliexpress_sandbox, refund: bool, expected: tuple[str, str | None]) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.ship(oid, "LP1")
    sb.open_dispute(oid)
    assert _status(sb, oid) == ("IN_ISSUE", None)
    sb.resolve_dispute(oid, refund=refund)
    assert _status(sb, oid) == expected


def test_orders_ids_are_deterministic_per_seed() -> None:
    first = AliExpressSandbox(AliExpressSandboxConfig(seed=42))
    second = AliExpressSandbox(AliExpressSandboxConfig(seed=42))
    assert [first.create_order() for _ in range(3)] == [second.create_order() for _ in range(3)]


def test_control_endpoints_drive_a_sandbox_run_from_the_command_line(aliexpress_sandbox) -> None:
    base = aliexpress_sandbox.base_url
    oid = httpx.post(f"{base}/_sandbox/orders", json={"amount": "9.99"}).json()["order_id"]
    assert httpx.post(f"{base}/_sandbox/orders/{oid}/pay").json()["order_status"] == "RISK_CONTROL"
    httpx.post(f"{base}/_sandbox/clock", json={"hours": 24})
    shipped = httpx.post(f"{base}/_sandbox/orders/{oid}/ship", json={"tracking_number": "LP9"}).json()
    assert shipped["order_status"] == "WAIT_BUYER_ACCEPT_GOODS"
    conflict = httpx.post(f"{base}/_sandbox/orders/{oid}/request-cancellation")
    assert conflict.status_code == 409
    faults = httpx.post(f"{base}/_sandbox/faults", json={"kind": "http_500", "count": 2}).json()
    assert faults["queued"] == ["http_500", "http_500"]


def test_demo_orders_cover_several_stages() -> None:
    sb = AliExpressSandbox(AliExpressSandboxConfig(seed=1, demo_orders=4))
    statuses = sorted(o.order_status for o in sb.world.orders.values())
    assert statuses == [
        "PLACE_ORDER_SUCCESS",
        "WAIT_BUYER_ACCEPT_GOODS",
        "WAIT_BUYER_ACCEPT_GOODS",
        "WAIT_SELLER_SEND_GOODS",
    ]


def test_wall_clock_follows_real_time_and_jumps_ahead() -> None:
    from sandboxes.aliexpress import WallClock

    clock = WallClock()
    before = dt.datetime.now(dt.UTC)
    assert before - dt.timedelta(seconds=5) <= clock.now() <= before + dt.timedelta(seconds=5)
    clock.advance(days=2)
    assert clock.now() - dt.datetime.now(dt.UTC) > dt.timedelta(days=1, hours=23)
    with pytest.raises(ValueError):
        clock.advance(hours=-1)


def test_adopting_unknown_order_numbers_for_demos() -> None:
    sb = AliExpressSandbox(AliExpressSandboxConfig(seed=1, adopt_unknown_orders=True))
    with sb.serve(), sb.client() as client:
        order = client.get_order("8123456789012345")
        assert order.order_status == "WAIT_SELLER_SEND_GOODS"
        assert client.get_order("8123456789012345").amount == order.amount  # the same order afterwards


def test_the_seller_can_act_on_an_adopted_order_number_before_anyone_polled_it() -> None:
    """Played with `dropsync up`: the shop's order names an AliExpress number; the person playing the seller
    ships it through the control API first. It was refused ("no order …") until dropsync had polled it."""
    sb = AliExpressSandbox(AliExpressSandboxConfig(seed=1, adopt_unknown_orders=True))
    with sb.serve(), sb.client() as client:
        shipped = httpx.post(f"{sb.base_url}/_sandbox/orders/8123456789012346/ship", json={})
        assert shipped.status_code == 200, shipped.text
        assert shipped.json()["order_status"] == "WAIT_BUYER_ACCEPT_GOODS"
        order = client.get_order("8123456789012346")  # the same order the gateway shows
        assert order.order_status == "WAIT_BUYER_ACCEPT_GOODS"
        unknown = httpx.post(f"{sb.base_url}/_sandbox/orders/not-a-number/ship", json={})
        assert unknown.status_code in (404, 409)
        assert "no order" in unknown.text
