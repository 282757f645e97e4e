"""The request state machine: every allowed move works and is recorded; every other one is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CancellationRequest, Order, Shop, TimelineEvent
from models.types import utcnow
from worker.cancellation import states as s
from worker.cancellation.errors import ImpossibleTransition
from worker.cancellation.service import supplier_stage

ALL = sorted(s.TRANSITIONS)


def _request(session: Session, state: str) -> CancellationRequest:
    shop = Shop(domain=f"states-{utcnow().timestamp()}.myshopify.com")
    session.add(shop)
    session.flush()
    order = Order(shop_id=shop.id, shopify_gid=f"gid://shopify/Order/{shop.id}", name="#1", currency="USD",
                  shopify_created_at=utcnow(), shopify_updated_at=utcnow())  # fmt: skip
    session.add(order)
    session.flush()
    request = CancellationRequest(shop_id=shop.id, order_id=order.id, reason="other", state=state, state_history=[])
    session.add(request)
    session.flush()
    return request


@pytest.mark.parametrize(("old", "new"), [(o, n) for o in ALL for n in ALL if n != o])
def test_each_pair_is_allowed_or_refused_clearly(session: Session, old: str, new: str) -> None:
    request = _request(session, old)
    if new in s.TRANSITIONS[old]:
        s.move(session, request, new, actor="operator:test", why="test")
        assert request.state == new
        assert request.state_history[-1]["from"] == old
        assert request.state_history[-1]["to"] == new
        kinds = session.scalars(select(TimelineEvent.kind).where(TimelineEvent.order_id == request.order_id)).all()
        assert f"cancellation.{new}" in kinds
    else:
        with pytest.raises(ImpossibleTransition, match=f"is {old}.*cannot become {new}"):
            s.move(session, request, new, actor="operator:test", why="test")
        assert request.state == old


def test_withdrawable_is_exactly_before_the_shopify_action() -> None:
    assert {st for st in ALL if s.WITHDRAWN in s.TRANSITIONS[st]} == set(s.WITHDRAWABLE)
    assert s.SHOPIFY_ACTION not in s.WITHDRAWABLE
    assert all(not s.TRANSITIONS[t] for t in s.TERMINAL)


class _SO:
    def __init__(self, status: str) -> None:
        self.status = status


@pytest.mark.parametrize(
    ("statuses", "stage"),
    [
        ([], "direct"),
        (["awaiting_payment"], "direct"),
        (["closed_cancelled"], "confirmed"),
        (["closed_cancelled", "awaiting_payment"], "confirmed"),
        (["closed_cancelled", "awaiting_shipment"], "waiting"),
        (["cancellation_requested", "closed_cancelled"], "requested"),
        (["cancellation_requested", "shipped"], "shipped"),
        (["partly_shipped"], "shipped"),
        (["risk_check"], "waiting"),
    ],
)
def test_supplier_stage(statuses: list[str], stage: str) -> None:
    assert supplier_stage([_SO(x) for x in statuses]) == stage  # type: ignore[misc]
