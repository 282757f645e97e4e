"""What chargebacks gave customers back: money the store must not refund again.

When a chargeback opens, the bank takes the disputed amount from the store and gives it to the customer; it
stays theirs if the store accepts or loses, and comes back to the store only if it wins (``WON``) or the
dispute is ``PREVENTED``. ``CHARGE_REFUNDED`` means the store refunded the charge: Shopify counts that refund
already. An inquiry moves no money. A refund on top of a chargeback not won pays the customer twice, so the
policy caps every refund by it (``PolicyOrder.charged_back``) and the cross-check does not advise one.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import BigInteger, func, select
from sqlalchemy.orm import Session

from models import Chargeback, Order
from worker.db.bulk import any_of

#: The chargeback statuses in which the customer has the disputed amount back.
HELD = ("NEEDS_RESPONSE", "UNDER_REVIEW", "ACCEPTED", "LOST")


def returned_by_banks(session: Session, order_ids: Sequence[int]) -> dict[int, Decimal]:
    """Order id → what its customer's bank gave back through chargebacks not won, in the order's currency
    (a chargeback in another currency is left out: never netted). Orders without one are absent."""
    if not order_ids:
        return {}
    rows = session.execute(
        select(Chargeback.order_id, func.sum(Chargeback.amount))
        .join(Order, Order.id == Chargeback.order_id)
        .where(
            any_of(session, Chargeback.order_id, list(order_ids), BigInteger),
            Chargeback.dispute_type == "CHARGEBACK",
            Chargeback.status.in_(HELD),
            Chargeback.currency == Order.currency,
        )
        .group_by(Chargeback.order_id)
    ).all()
    return {order_id: Decimal(str(total)) for order_id, total in rows if order_id is not None and total}
