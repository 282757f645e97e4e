"""Every order status and end reason maps to the state a person expects; unknown values never raise."""

from __future__ import annotations

import pytest

from integrations.aliexpress import status as st
from integrations.aliexpress.status import map_status

ORDER_STATUSES = {
    "PLACE_ORDER_SUCCESS": st.AWAITING_PAYMENT,
    "RISK_CONTROL": st.RISK_CHECK,
    "WAIT_SELLER_EXAMINE_MONEY": st.RISK_CHECK,
    "WAIT_SELLER_SEND_GOODS": st.AWAITING_SHIPMENT,
    "SELLER_PART_SEND_GOODS": st.PARTLY_SHIPPED,
    "IN_CANCEL": st.CANCELLATION_REQUESTED,
    "WAIT_BUYER_ACCEPT_GOODS": st.SHIPPED,
    "FUND_PROCESSING": st.DELIVERED,
    "IN_ISSUE": st.IN_DISPUTE,
    "IN_FROZEN": st.IN_DISPUTE,
}
CANCEL_REASONS = [
    "buyer_cancel_order", "buyer_cancel_notpay_order", "seller_send_goods_timeout", "cancel_order_close_trade",
    "seller_accept_issue_no_goods_return", "buyer_pay_timeout", "risk_reject_closed",
    "seller_accept_issue_goods_return",
]  # fmt: skip
COMPLETE_REASONS = ["buyer_accept_goods", "buyer_accept_goods_timeout"]


@pytest.mark.parametrize(("raw", "state"), sorted(ORDER_STATUSES.items()))
def test_every_open_order_status(raw: str, state: str) -> None:
    assert map_status(raw) == st.StatusReading(state, True)


def test_the_table_covers_every_open_status_the_model_knows() -> None:
    assert set(ORDER_STATUSES) == set(st.ORDER_STATUS_STATES)


@pytest.mark.parametrize("reason", CANCEL_REASONS)
def test_finish_with_a_cancel_reason_is_closed_cancelled(reason: str) -> None:
    assert map_status("FINISH", reason) == st.StatusReading(st.CLOSED_CANCELLED, True)


@pytest.mark.parametrize("reason", COMPLETE_REASONS)
def test_finish_with_a_completion_reason_is_closed_completed(reason: str) -> None:
    assert map_status("FINISH", reason, "BUYER_ACCEPT_GOODS") == st.StatusReading(st.CLOSED_COMPLETED, True)


def test_reason_lists_are_exactly_the_tested_ones_and_disjoint() -> None:
    assert set(CANCEL_REASONS) == st.CANCEL_END_REASONS
    assert set(COMPLETE_REASONS) == st.COMPLETE_END_REASONS
    assert not st.CANCEL_END_REASONS & st.COMPLETE_END_REASONS


def test_shipped_with_goods_accepted_is_delivered() -> None:
    assert map_status("WAIT_BUYER_ACCEPT_GOODS", None, "BUYER_ACCEPT_GOODS").state == st.DELIVERED
    assert map_status("WAIT_BUYER_ACCEPT_GOODS", None, "SELLER_SEND_GOODS").state == st.SHIPPED


def test_finish_without_reason_but_goods_accepted_is_completed() -> None:
    assert map_status("FINISH", None, "BUYER_ACCEPT_GOODS") == st.StatusReading(st.CLOSED_COMPLETED, True)


@pytest.mark.parametrize("reason", [None, "", "seller_felt_like_it"])
def test_finish_with_unknown_reason_is_unknown_not_guessed(reason: str | None) -> None:
    reading = map_status("FINISH", reason, "SELLER_SEND_GOODS")
    assert reading.state == st.UNKNOWN
    assert not reading.known
    assert "end_reason" in reading.reason


@pytest.mark.parametrize("raw", [None, "", "TELEPORTED", "finish_later"])
def test_unknown_order_status_is_flagged(raw: str | None) -> None:
    reading = map_status(raw)
    assert reading.state == st.UNKNOWN
    assert not reading.known


def test_unknown_logistics_keeps_the_order_state_but_flags_it() -> None:
    reading = map_status("WAIT_SELLER_SEND_GOODS", None, "BEAMED_UP")
    assert reading.state == st.AWAITING_SHIPMENT
    assert not reading.known
    assert "logistics" in reading.reason


def test_case_and_spaces_are_ignored() -> None:
    assert map_status(" finish ", " BUYER_CANCEL_ORDER ", " seller_send_goods ").state == st.CLOSED_CANCELLED
    assert map_status("wait_seller_send_goods").state == st.AWAITING_SHIPMENT


def test_every_state_has_a_label() -> None:
    assert set(st.STATE_LABELS) == set(st.STATES)
