"""Real webhooks (sandbox → receiver → inbox → drain) close intents and wake waiting requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from models import CancellationRequest, Order, Shop, ShopifyIntent, TimelineEvent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.cancellation.faults import LossyClient
from tests.support.web import serve_app
from worker.cancellation import execution, service
from worker.cancellation import states as s
from worker.db import session_scope
from worker.mirror import inbox
from worker.web.app import create_app

TOPICS = [
    "orders/cancelled", "orders/updated", "refunds/create", "fulfillment_orders/cancellation_request_accepted",
    "fulfillment_orders/cancellation_request_submitted",
]  # fmt: skip


@pytest.fixture
def lossy(sandbox: ShopifySandbox) -> Iterator[LossyClient]:
    with LossyClient(
        sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url, backoff_initial=0.01
    ) as c:
        yield c


@pytest.fixture
def webhooks(sandbox: ShopifySandbox, shop: Shop) -> Iterator[None]:
    with serve_app(create_app()) as base_url:
        for topic in TOPICS:
            sandbox.control.subscribe(topic, f"{base_url}/webhooks/shopify")
        yield


def _deliver(sandbox: ShopifySandbox) -> None:
    assert sandbox.control.wait_for_webhooks(timeout=20)
    inbox.drain(session_scope)


def _request(order_id: int, reason: str = "out_of_stock") -> int:
    with session_scope() as session:
        request = service.create_request(session, session.get_one(Order, order_id), reason=reason, actor="t")
        if request.state == s.NEEDS_APPROVAL:
            service.approve(session, request, "t")
        return request.id


def _intent(request_id: int) -> ShopifyIntent:
    with session_scope() as session:
        return session.scalars(select(ShopifyIntent).where(ShopifyIntent.cancellation_request_id == request_id)).one()


@pytest.mark.usefixtures("webhooks")
def test_orders_cancelled_closes_an_unknown_cancel_intent(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(lossy, shop.id, gid)
    # REST webhooks carry whole-second updated_at; the GraphQL read has milliseconds: a webhook in the
    # same second as the mirror's read would be taken as stale by the mirror (reconciliation fixes it).
    sandbox.state.clock.advance(1.1)  # the cancel lands in a later second of the shop's time
    request_id = _request(order_id)
    lossy.lose_after = 1
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    published.take()
    sandbox.control.set_faults(webhook_duplicate_rate=1.0)  # and delivered twice
    _deliver(sandbox)
    intent = _intent(request_id)
    assert intent.state == "succeeded"
    assert published.take() == [(service.ADVANCE_TASK, [request_id])]  # once, despite the duplicate
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}
    with session_scope() as session:
        events = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "intent.succeeded")).all()
        assert [e.data["how"] for e in events if e.order_id == order_id] == ["closed by the order showing cancelled"]


@pytest.mark.usefixtures("webhooks")
def test_refunds_create_closes_an_unknown_refund_intent(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=2)
    for step in ("submit", "accept", "fulfill"):
        sandbox.control.fulfillment(gid, step)
    request_id = _request(mirror(lossy, shop.id, gid), reason="damaged")
    lossy.lose_after = 1
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    _deliver(sandbox)
    intent = _intent(request_id)
    assert intent.state == "succeeded"
    assert intent.result_ids
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert sandbox.control.applied_counts(gid) == {"refundCreate": 1}


@pytest.mark.usefixtures("webhooks")
def test_the_service_accepting_by_webhook_wakes_the_request(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    sandbox.control.fulfillment(gid, "submit")
    sandbox.control.fulfillment(gid, "accept")
    request_id = _request(mirror(lossy, shop.id, gid))
    assert execution.run_request(session_scope, request_id, lossy) == "wait"
    published.take()
    sandbox.control.fulfillment(gid, "accept_cancellation")
    _deliver(sandbox)
    assert (service.ADVANCE_TASK, [request_id]) in published.take()
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    with session_scope() as session:
        assert session.get_one(CancellationRequest, request_id).state == s.DONE


@pytest.mark.usefixtures("webhooks")
def test_the_merchant_asking_the_service_to_cancel_opens_a_request(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    sandbox.control.fulfillment(gid, "submit")
    sandbox.control.fulfillment(gid, "accept")
    order_id = mirror(lossy, shop.id, gid)
    fo_gid = sandbox.control.snapshot(gid)["fulfillment_orders"][0]["id"]
    lossy.execute("FulfillmentOrderSubmitCancellationRequest", {"id": fo_gid, "message": "customer changed mind"})
    _deliver(sandbox)
    with session_scope() as session:
        (request,) = service.requests_for_order(session, order_id)
        request_id = request.id
        assert request.source == service.FULFILLMENT_SERVICE
        assert request.note == "customer changed mind"
        if request.state == s.NEEDS_APPROVAL:  # the policy may want a person for a held order
            service.approve(session, request, "operator:test")
        assert request.state == s.SHOPIFY_ACTION  # nothing paid to a supplier
    _deliver(sandbox)  # a duplicate delivery opens nothing more
    with session_scope() as session:
        assert len(service.requests_for_order(session, order_id)) == 1
    # We are the service: nobody else answers. A person accepts it in Shopify, then resumes.
    assert execution.run_request(session_scope, request_id, lossy) == "operator"
    sandbox.control.fulfillment(gid, "accept_cancellation")
    with session_scope() as session:
        service.resume(session, session.get_one(CancellationRequest, request_id), "operator:test")
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert sandbox.control.applied_counts(gid)["orderCancel"] == 1


@pytest.mark.usefixtures("webhooks")
def test_a_cancel_s_read_back_tied_with_its_own_webhook_has_the_order_re_read(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancellation's webhooks can be drained (by another worker process) before the intent applies its
    own read of the order: both carry the second of the cancel, so neither can be told newer. The read is
    applied, as it carries more, and the order is read again from Shopify, as after every other GraphQL read
    of a tied order; without it, a webhook version newer within that second would wait for the next
    reconciliation."""
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(lossy, shop.id, gid)
    sandbox.state.clock.advance(1.1)  # the cancel lands in a later second than the mirror's read
    request_id = _request(order_id)
    published.take()

    def webhooks_drained_first(name: str, kind: str | None = None) -> None:
        if name == "after_mutation":  # Shopify has cancelled; our commit has not happened yet
            _deliver(sandbox)

    monkeypatch.setattr(execution, "failpoint", webhooks_drained_first)
    execution.run_request(session_scope, request_id, lossy)
    assert ("mirror.refresh_orders", [shop.id, [gid]]) in published.take()
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}
    with session_scope() as session:
        assert session.get_one(Order, order_id).cancelled_at is not None
