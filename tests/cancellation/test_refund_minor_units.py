"""Every amount sent to Shopify is cut to the order currency's minor unit (JPY 0, USD 2, KWD 3 decimals).

A refund input used to be quantized to 0.01 whatever the currency: a KWD refund lost its third decimal
and a JPY refund was sent as "1230.00". These build refundCreate's input from a suggestedRefund as
Shopify answers it in each currency and check the text that would go on the wire.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from worker.cancellation.actions import refund_input
from worker.cancellation.shopify_view import OrderView, TransactionView


class SuggestingClient:
    """Answers SuggestedRefund as Shopify does for the given transaction amounts; records the calls."""

    def __init__(self, amounts: list[str], shipping_max: str) -> None:
        self.amounts = amounts
        self.shipping_max = shipping_max
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def execute(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((name, variables))
        transactions = [
            {
                "parentTransaction": {"id": f"gid://shopify/OrderTransaction/{i}"},
                "gateway": "shopify_payments",
                "amountSet": {"shopMoney": {"amount": amount}},
            }
            for i, amount in enumerate(self.amounts, start=1)
        ]
        return {
            "order": {
                "suggestedRefund": {
                    "suggestedTransactions": transactions,
                    "shipping": {"maximumRefundableSet": {"shopMoney": {"amount": self.shipping_max}}},
                }
            }
        }


def _order(currency: str, received: str) -> OrderView:
    payment = TransactionView(
        gid="gid://shopify/OrderTransaction/1",
        kind="SALE",
        status="SUCCESS",
        gateway="shopify_payments",
        amount=Decimal(received),
        parent_gid=None,
    )
    return OrderView(
        gid="gid://shopify/Order/1",
        name="#1001",
        cancelled_at=None,
        fulfillment_status="FULFILLED",
        financial_status="PAID",
        currency=currency,
        total_received=Decimal(received),
        total_refunded=Decimal(0),
        fulfillment_orders=(),
        refunds=(),
        line_gids=("gid://shopify/LineItem/1",),
        transactions=(payment,),
    )


@pytest.mark.parametrize(
    ("currency", "suggested", "shipping", "policy_total", "want_amount", "want_shipping"),
    [
        # KWD has three decimals: the policy's 12.345 must not be cut to 12.34.
        ("KWD", "20.500", Decimal("1.125"), Decimal("12.345"), "12.345", "1.125"),
        # JPY has none: 1230.6 is floored to 1230 (never more than the policy's amount), sent as "1230".
        ("JPY", "5000", Decimal("300"), Decimal("1230.6"), "1230", "300"),
        ("USD", "50.00", Decimal("4.999"), Decimal("10.009"), "10.00", "4.99"),
    ],
)
def test_refund_amounts_sent_in_the_currency_minor_units(
    currency: str, suggested: str, shipping: Decimal, policy_total: Decimal, want_amount: str, want_shipping: str
) -> None:
    client = SuggestingClient([suggested], shipping_max=suggested)
    refund, moved = refund_input(
        client,  # type: ignore[arg-type]
        _order(currency, suggested),
        lines=[{"line_gid": "gid://shopify/LineItem/1", "quantity": 1, "restock": False}],
        shipping=shipping,
        total=policy_total,
        note="t",
        notify=False,
    )
    assert [t["amount"] for t in refund["transactions"]] == [want_amount]
    assert refund["shipping"] == {"amount": want_shipping}
    assert moved == Decimal(want_amount)
    ((name, variables),) = client.calls
    assert name == "SuggestedRefund"
    assert variables["shippingAmount"] == want_shipping


def test_an_unknown_currency_is_refused_rather_than_guessed() -> None:
    from worker.money import UnknownCurrencyError

    client = SuggestingClient(["10.00"], shipping_max="0")
    with pytest.raises(UnknownCurrencyError):
        refund_input(
            client,  # type: ignore[arg-type]
            _order("XXX", "10.00"),
            lines=[{"line_gid": "gid://shopify/LineItem/1", "quantity": 1, "restock": False}],
            shipping=Decimal(0),
            total=Decimal("10.00"),
            note="t",
            notify=False,
        )
