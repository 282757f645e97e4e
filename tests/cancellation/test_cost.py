"""What a simple cancellation costs on Shopify: at most 3 calls and 100 actual points, and the client's
estimate of each call's requested cost is the figure the sandbox (Shopify's rules) charges."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from integrations.shopify import documents
from integrations.shopify.client import ShopifyClient
from integrations.shopify.documents import Document
from models import Shop
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import mirror
from worker.cancellation import execution, service
from worker.db import session_scope

pytestmark = pytest.mark.usefixtures("published")


class Recording(ShopifyClient):
    """Every call: (document, our estimate of its requested cost, the server's requested, actual)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, int, float | None, float | None]] = []

    def execute(
        self, document: str | Document, variables: Mapping[str, Any] | None = None, *, idempotent: bool = False
    ) -> dict[str, Any]:
        doc = documents.load(document) if isinstance(document, str) else document
        data = super().execute(doc, variables, idempotent=idempotent)
        cost = self.last_cost
        assert cost is not None
        self.calls.append((doc.name, documents.estimate_cost(doc, variables), cost.requested, cost.actual))
        return data


def test_a_simple_cancellation_costs_three_calls_and_at_most_100_points(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    from models import Order

    gid = sandbox.control.create_order(status="paid", line_items=2)
    order_id = mirror(client, shop.id, gid)
    with session_scope() as session:
        request_id = service.create_request(
            session, session.get_one(Order, order_id), reason="out_of_stock", actor="operator:test"
        ).id
    config = sandbox.config
    with Recording(config.shop_domain, config.access_token, api_url=sandbox.base_url) as recording:
        assert execution.run_request(session_scope, request_id, recording) == "done"
    names = [name for name, *_ in recording.calls]
    assert names == ["OrderForAction", "OrderCancel", "OrderById"]
    assert sum(actual or 0 for *_, actual in recording.calls) <= 100
    for name, estimate, requested, _ in recording.calls:
        assert estimate == requested, f"{name}: we estimate {estimate}, Shopify's rules say {requested}"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}


@pytest.mark.parametrize("name", ["OrderForAction", "OrderById", "OrdersPage", "SuggestedRefund", "JobById"])
def test_the_estimate_is_the_sandboxs_requested_cost(name: str, sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    """Plain lists (``refunds(first: 20)``) are not multiplied by ``first``; connections are."""
    gid = sandbox.control.create_order(status="paid", line_items=2)
    special: dict[str, dict[str, Any]] = {
        "OrdersPage": {"first": 3},
        "SuggestedRefund": {"id": gid, "refundLineItems": [], "shippingAmount": "0"},
        "JobById": {"id": "gid://shopify/Job/1"},
    }
    variables = special.get(name, {"id": gid})
    doc = documents.load(name)
    client.execute(doc, variables)
    assert client.last_cost is not None
    assert documents.estimate_cost(doc, variables) == client.last_cost.requested
