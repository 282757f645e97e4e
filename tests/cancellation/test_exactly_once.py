"""Lost answers, retries, webhooks and operators never make Shopify act twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import CancellationRequest, Order, Shop, ShopifyIntent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.cancellation.faults import LossyClient
from worker.cancellation import execution, service, sweeper
from worker.cancellation import intents as ik
from worker.cancellation import states as s
from worker.db import session_scope

pytestmark = pytest.mark.usefixtures("published")


@pytest.fixture
def lossy(sandbox: ShopifySandbox) -> Iterator[LossyClient]:
    with LossyClient(
        sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url, backoff_initial=0.01
    ) as c:
        yield c


def _request(order_id: int, reason: str = "out_of_stock") -> int:
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        return service.create_request(session, order, reason=reason, actor="operator:test").id


def _intent(request_id: int) -> ShopifyIntent:
    with session_scope() as session:
        return session.scalars(select(ShopifyIntent).where(ShopifyIntent.cancellation_request_id == request_id)).one()


def test_lost_cancel_answer_marks_unknown_and_the_retry_adopts(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=2)
    request_id = _request(mirror(lossy, shop.id, gid))
    lossy.lose_after = 1
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    intent = _intent(request_id)
    assert intent.state == "unknown"
    assert intent.next_attempt_at is not None
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}
    intent = _intent(request_id)
    assert intent.state == "succeeded"
    assert intent.attempts == 2


def test_lost_refund_answer_is_resent_with_the_same_key(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=2)
    for step in ("submit", "accept", "fulfill"):
        sandbox.control.fulfillment(gid, step)
    request_id = _request(mirror(lossy, shop.id, gid), reason="damaged")
    with session_scope() as session:
        request = session.get_one(CancellationRequest, request_id)
        if request.state == s.NEEDS_APPROVAL:
            service.approve(session, request, "operator:test")
    lossy.lose_after = 1
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert sandbox.control.applied_counts(gid) == {"refundCreate": 1}


def test_timeout_before_shopify_saw_it_sends_once_later(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    request_id = _request(mirror(lossy, shop.id, gid))
    lossy.lose_before = 1
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    assert sandbox.control.applied_counts(gid) == {}
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}


def test_sweeper_retries_with_backoff_then_hands_over(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    request_id = _request(mirror(lossy, shop.id, gid))
    lossy.lose_before = 100
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    intent_id = _intent(request_id).id
    published.take()
    now = dt.datetime.now(dt.UTC)
    with session_scope() as session:
        assert sweeper.sweep(session, now).retried == 0  # not due yet: backoff
    with session_scope() as session:
        assert sweeper.sweep(session, now + dt.timedelta(minutes=1)).retried == 1
    assert published.take() == [(service.EXECUTE_TASK, [intent_id])]
    for _ in range(ik.MAX_ATTEMPTS - 1):
        execution.execute_intent(session_scope, intent_id, lossy)
    with session_scope() as session:
        result = sweeper.sweep(session, now + dt.timedelta(hours=2))
    assert result.failed == 1
    assert _intent(request_id).state == "failed"
    with session_scope() as session:
        assert session.get_one(CancellationRequest, request_id).state == s.NEEDS_OPERATOR
    # A person retries once Shopify is reachable again: read first, then sent once.
    lossy.lose_before = 0
    with session_scope() as session:
        ik.operator_retry(session, intent_id, "operator:test")
        request = session.get_one(CancellationRequest, request_id)
        s.move(session, request, s.SHOPIFY_ACTION, actor="operator:test", why="retry")
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}


def test_webhook_closes_the_intent_and_a_late_retry_does_nothing(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(lossy, shop.id, gid)
    request_id = _request(order_id)
    lossy.lose_after = 1
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    mirror(lossy, shop.id, gid)  # orders/cancelled or a reconcile: the mirror shows cancelledAt
    assert _intent(request_id).state == "succeeded"
    assert execution.execute_intent(session_scope, _intent(request_id).id, lossy) == "succeeded"
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}


def test_one_live_intent_per_order_and_kind(sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(lossy, shop.id, gid)
    with session_scope() as session:
        first, created = ik.create_intent(
            session, shop_id=shop.id, order_id=order_id, kind=ik.IntentKind.ORDER_CANCEL, params={}, request_id=None
        )
        second, again = ik.create_intent(
            session, shop_id=shop.id, order_id=order_id, kind=ik.IntentKind.ORDER_CANCEL, params={}, request_id=None
        )
    assert created
    assert not again
    assert first.id == second.id
    from sqlalchemy.exc import IntegrityError

    with session_scope() as session:  # the database refuses a second live one too
        session.add(ShopifyIntent(shop_id=shop.id, order_id=order_id, kind=ik.IntentKind.ORDER_CANCEL, params={},
                                  idempotency_key="another", state="pending"))  # fmt: skip
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


def test_exposure_is_refunded_minus_recovered(sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop) -> None:
    from worker.cancellation.exposure import exposures, totals
    from worker.supplier import service as supplier

    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(lossy, shop.id, gid)
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        so = supplier.link_supplier_order(session, order, "8100000000000009", None, "operator:test")
        so.status, so.amount_paid = "awaiting_shipment", Decimal("5.00")
    request_id = _request(order_id)
    with session_scope() as session:
        from models import SupplierOrder

        so = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order_id)).one()
        supplier.record_cancellation_confirmed(session, so, "operator:test")
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    paid = Decimal(sandbox.control.snapshot(gid)["total_refunded"])
    with session_scope() as session:
        so = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order_id)).one()
        supplier.record_supplier_refund(session, so, Decimal("5.00"), "USD", "operator:test", reference="R1")
        (row,) = exposures(session, [order_id])
    assert row.refunded_to_customer == paid
    assert row.recovered_from_supplier == Decimal("5.00")
    assert row.exposure == paid - Decimal("5.00")
    assert row.refund_due_at is not None
    # The supplier was paid 5.00 and gave 5.00 back: nothing more is its to repay, the due date is gone.
    assert row.to_recover == 0
    assert row.due_at is None
    assert totals([row]) == {row.currency: Decimal(0)}


@pytest.mark.parametrize("fulfilled", [False, True])
def test_concurrent_runs_of_one_request_act_once(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, fulfilled: bool
) -> None:
    import concurrent.futures

    gid = sandbox.control.create_order(status="paid", line_items=2)
    if fulfilled:
        for step in ("submit", "accept", "fulfill"):
            sandbox.control.fulfillment(gid, step)
    request_id = _request(mirror(lossy, shop.id, gid), reason="damaged" if fulfilled else "out_of_stock")
    with session_scope() as session:
        request = session.get_one(CancellationRequest, request_id)
        if request.state == s.NEEDS_APPROVAL:
            service.approve(session, request, "operator:test")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: execution.run_request(session_scope, request_id, lossy), range(4)))
    assert "done" in outcomes
    assert execution.run_request(session_scope, request_id, lossy) in ("done", "idle")
    counts = sandbox.control.applied_counts(gid)
    assert counts == ({"refundCreate": 1} if fulfilled else {"orderCancel": 1})


def test_a_failed_confirmation_read_after_the_cancel_is_unknown_not_retried_blind(
    sandbox: ShopifySandbox, shop: Shop
) -> None:
    from integrations.shopify.errors import ShopifyThrottled

    class ConfirmationThrottled(LossyClient):
        throttle_next_order_read = False

        def execute(self, document, variables=None, *, idempotent=False):  # type: ignore[no-untyped-def]
            name = document if isinstance(document, str) else document.name
            if name == "OrderById" and self.throttle_next_order_read:
                self.throttle_next_order_read = False
                raise ShopifyThrottled([{"message": "Throttled", "extensions": {"code": "THROTTLED"}}])
            data = super().execute(document, variables, idempotent=idempotent)
            if name == "OrderCancel":
                self.throttle_next_order_read = True
            return data

    with ConfirmationThrottled(sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url) as c:
        gid = sandbox.control.create_order(status="paid", line_items=1)
        request_id = _request(mirror(c, shop.id, gid))
        assert execution.run_request(session_scope, request_id, c) == "unknown"  # applied, not confirmed
        assert _intent(request_id).state == "unknown"
        assert execution.run_request(session_scope, request_id, c) == "done"  # read first: adopted
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}
    assert _intent(request_id).attempts == 2
