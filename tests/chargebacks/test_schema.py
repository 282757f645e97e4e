"""The chargebacks table's invariants, each proven on the database itself."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from models import Chargeback, Shop
from tests.foundation.test_schema_invariants import _rejected


def _shop(session: Session) -> Shop:
    shop = Shop(domain=f"c{uuid.uuid4().hex[:8]}.myshopify.com")
    session.add(shop)
    session.flush()
    return shop


def _chargeback(shop: Shop, **overrides: object) -> Chargeback:
    fields: dict[str, object] = {
        "shop_id": shop.id, "dispute_gid": "gid://shopify/ShopifyPaymentsDispute/1", "dispute_type": "CHARGEBACK",
        "reason": "PRODUCT_NOT_RECEIVED", "status": "NEEDS_RESPONSE", "amount": Decimal("10.00"), "currency": "USD",
    }  # fmt: skip
    fields.update(overrides)
    return Chargeback(**fields)


def test_one_row_per_dispute_and_shop(session: Session) -> None:
    shop, other = _shop(session), _shop(session)
    session.add_all([_chargeback(shop), _chargeback(other)])
    session.flush()
    _rejected(session, _chargeback(shop))


@pytest.mark.parametrize(
    "overrides",
    [{"amount": Decimal("-1")}, {"fee": Decimal("-0.01")}, {"status": "MAYBE"}, {"dispute_type": "REFUND"}],
)
def test_amounts_fees_statuses_and_types_are_checked(session: Session, overrides: dict[str, object]) -> None:
    _rejected(session, _chargeback(_shop(session), **overrides))
