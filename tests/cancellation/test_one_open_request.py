"""Two transactions opening a request for the same order at once: the schema refuses the second.

The service checks for an open request before inserting, but a transaction that checked before another
committed sees nothing; the partial unique index is what holds. Here the check is made to miss (exactly
what the slower transaction saw) and the refusal must be the same one an operator gets from the check.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import CancellationRequest, Order, Shop, TimelineEvent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import mirror
from worker.cancellation import service
from worker.cancellation import states as s
from worker.cancellation.errors import RequestAlreadyOpen
from worker.db import session_scope
from worker.timeline import record_event

pytestmark = pytest.mark.usefixtures("published")


def _order_with_a_request(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop) -> tuple[int, int]:
    order_id = mirror(client, shop.id, sandbox.control.create_order(status="paid", line_items=2))
    with session_scope() as session:
        first = service.create_request(session, session.get_one(Order, order_id), reason="other", actor="a").id
    return order_id, first


def _requests(order_id: int) -> list[tuple[int, bool]]:
    with session_scope() as session:
        query = select(CancellationRequest).where(CancellationRequest.order_id == order_id)
        return [(r.id, r.state in s.OPEN) for r in session.scalars(query)]


def test_a_concurrent_second_request_is_refused_by_the_schema(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id, first = _order_with_a_request(sandbox, client, shop)
    monkeypatch.setattr(service, "open_request", lambda session, order_id: None)  # checked before `first` committed
    with pytest.raises(RequestAlreadyOpen, match="open cancellation request"), session_scope() as session:
        service.create_request(session, session.get_one(Order, order_id), reason="out_of_stock", actor="b")
    assert _requests(order_id) == [(first, True)]


@pytest.mark.postgres
def test_after_the_refusal_the_callers_transaction_goes_on(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook drain records why it opened nothing, in the same transaction (a savepoint held)."""
    order_id, first = _order_with_a_request(sandbox, client, shop)
    monkeypatch.setattr(service, "open_request", lambda session, order_id: None)
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        with pytest.raises(RequestAlreadyOpen):
            service.create_request(session, order, reason="out_of_stock", actor="shopify:webhook")
        record_event(session, shop_id=shop.id, order_id=order_id, kind="cancellation.not_requested", message="dup")
    with session_scope() as session:
        kinds = session.scalars(select(TimelineEvent.kind).where(TimelineEvent.order_id == order_id)).all()
    assert "cancellation.not_requested" in kinds
    assert _requests(order_id) == [(first, True)]
