"""The client against the Shopify sandbox: error channels, retries under fault switches, pacing.

Each test serves its own sandbox (the config differs per test: plan, fault switches) on 127.0.0.1.
A recording transport counts what really went over the wire, so "not retried" is observable.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from integrations.shopify.client import ShopifyClient, forget_requested_costs
from integrations.shopify.errors import (
    ShopifyGraphQLError,
    ShopifyHTTPError,
    ShopifyOutcomeUnknown,
    ShopifyTransportError,
    ShopifyUserErrors,
    raise_for_user_errors,
)
from integrations.shopify.throttle import CostBucket
from sandboxes.shopify import SandboxConfig, ShopifySandbox

SHOP = "client-test.myshopify.com"
TOKEN = "shpat_client_test"


class Recorder(httpx.BaseTransport):
    """A real HTTP transport that remembers each exchange's status, error codes and actual cost."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.statuses: list[int] = []
        self.codes: list[str] = []
        self.actual_points = 0.0
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.sent += 1
        response = self._inner.handle_request(request)
        response.read()
        body = _json(response.content)
        with self._lock:
            self.statuses.append(response.status_code)
            errors = body.get("errors") if isinstance(body.get("errors"), list) else []
            self.codes += [e.get("extensions", {}).get("code", "") for e in errors]
            self.actual_points += float(body.get("extensions", {}).get("cost", {}).get("actualQueryCost") or 0)
        return response

    def close(self) -> None:
        self._inner.close()

    @property
    def requests(self) -> int:
        return len(self.statuses)


def _json(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@pytest.fixture
def make_sandbox() -> Iterator[Any]:
    stack: list[tuple[ShopifySandbox, Any]] = []

    def make(**options: Any) -> tuple[ShopifySandbox, str]:
        settings: dict[str, Any] = {"seed": 5, "orders": 30, "plan": "standard", "shop_domain": SHOP,
                                    "access_token": TOKEN, "client_secret": "client-test-secret",
                                    "api_version": "2026-10", "job_delay_seconds": 0.0}  # fmt: skip
        config = SandboxConfig(**(settings | options))
        sandbox = ShopifySandbox(config)
        serving = sandbox.serve()
        base_url = serving.__enter__()
        stack.append((sandbox, serving))
        return sandbox, base_url

    forget_requested_costs()
    yield make
    for sandbox, serving in stack:
        serving.__exit__(None, None, None)
        sandbox.close()


def client_for(base_url: str, recorder: Recorder, token: str = TOKEN, **options: Any) -> ShopifyClient:
    options.setdefault("backoff_initial", 0.01)
    options.setdefault("backoff_max", 0.05)
    return ShopifyClient(SHOP, token, api_url=base_url, transport=recorder, bucket=CostBucket(), **options)


def first_order_id(client: ShopifyClient) -> str:
    return str(client.execute("OrdersPage", {"first": 1})["orders"]["nodes"][0]["id"])


def test_reads_orders_with_the_project_documents(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox()
    recorder = Recorder()
    with client_for(base_url, recorder) as client:
        page = client.execute("OrdersPage", {"first": 2})["orders"]
        assert len(page["nodes"]) == 2
        order = client.execute("OrderById", {"id": page["nodes"][0]["id"]})["order"]
        assert order["name"] == sandbox.control.snapshot(order["id"])["name"]
        assert order["totalPriceSet"]["shopMoney"]["currencyCode"] == "USD"
        assert client.throttle_status is not None
        assert client.throttle_status.restore_rate == 100
        assert client.throttle_status.maximum_available == sandbox.config.effective_bucket_size


def test_a_bad_query_is_a_graphql_error_sent_once(make_sandbox: Any) -> None:
    _, base_url = make_sandbox()
    recorder = Recorder()
    with client_for(base_url, recorder) as client, pytest.raises(ShopifyGraphQLError) as caught:
        client.execute("query { orders(first: 1) { nodes { noSuchField } } }")
    assert caught.value.codes
    assert "noSuchField" in str(caught.value)
    assert recorder.requests == 1


def test_a_wrong_token_is_http_401_sent_once(make_sandbox: Any) -> None:
    _, base_url = make_sandbox()
    recorder = Recorder()
    with client_for(base_url, recorder, token="shpat_wrong") as client, pytest.raises(ShopifyHTTPError) as caught:
        client.execute("OrdersPage", {"first": 1})
    assert caught.value.status == 401
    assert recorder.requests == 1


def test_user_errors_raise_and_are_never_retried(make_sandbox: Any) -> None:
    _, base_url = make_sandbox()
    recorder = Recorder()
    with client_for(base_url, recorder) as client:
        data = client.execute("WebhookSubscriptionCreate", {"topic": "ORDERS_UPDATED", "uri": "not a url"})
        with pytest.raises(ShopifyUserErrors) as caught:
            raise_for_user_errors(data["webhookSubscriptionCreate"], operation="WebhookSubscriptionCreate")
    assert caught.value.user_errors[0].message
    assert recorder.requests == 1


def test_server_errors_are_retried_for_queries(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox()
    recorder = Recorder()
    with client_for(base_url, recorder, max_attempts=10) as client:
        order_id = first_order_id(client)
        sandbox.control.set_faults(error_rate=0.3)
        for _ in range(10):
            assert client.execute("OrderById", {"id": order_id})["order"]["id"] == order_id
    assert {502, 503} & set(recorder.statuses)
    assert recorder.requests > 11


def test_a_5xx_on_a_plain_mutation_is_outcome_unknown_and_not_resent(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox()
    recorder = Recorder()
    sandbox.control.set_faults(error_rate=1.0)
    with client_for(base_url, recorder) as client, pytest.raises(ShopifyOutcomeUnknown):
        client.execute("WebhookSubscriptionCreate", {"topic": "ORDERS_UPDATED", "uri": "https://example.com/h"})
    assert recorder.requests == 1


def subscriptions(client: ShopifyClient) -> list[dict[str, Any]]:
    return list(client.execute("WebhookSubscriptions", {"first": 50})["webhookSubscriptions"]["nodes"])


def test_a_mutation_timeout_is_outcome_unknown_and_not_resent(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox()
    recorder = Recorder()
    sandbox.control.set_faults(timeout_rate=1.0, timeout_seconds=1.0)
    variables = {"topic": "ORDERS_UPDATED", "uri": "https://example.com/h"}
    with client_for(base_url, recorder, timeout=0.3) as client, pytest.raises(ShopifyOutcomeUnknown) as caught:
        client.execute("WebhookSubscriptionCreate", variables)
    assert isinstance(caught.value.cause, httpx.ReadTimeout)
    assert recorder.sent == 1


def test_a_dropped_response_to_an_applied_mutation_is_outcome_unknown(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox()
    recorder = Recorder()
    uri = "https://example.com/hooks/dropped"
    with client_for(base_url, recorder) as client:
        sandbox.control.set_faults(drop_response_rate=1.0)
        with pytest.raises(ShopifyOutcomeUnknown):
            client.execute("WebhookSubscriptionCreate", {"topic": "ORDERS_UPDATED", "uri": uri})
        sandbox.control.clear_faults()
        # Shopify applied it: resending blindly would have subscribed twice.
        assert [s["uri"] for s in subscriptions(client)].count(uri) == 1
    assert recorder.sent == 2  # the mutation once, then the read


def test_a_read_that_keeps_timing_out_is_retried_then_a_transport_error(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox()
    sandbox.control.set_faults(timeout_rate=1.0, timeout_seconds=0.5)
    with client_for(base_url, Recorder(), timeout=0.1, max_attempts=3) as client:
        started = time.monotonic()
        with pytest.raises(ShopifyTransportError, match="ReadTimeout"):
            client.execute("OrdersPage", {"first": 1})
        assert time.monotonic() - started >= 0.3  # three attempts of 0.1 s each


@pytest.mark.slow
def test_a_burst_on_the_standard_plan_waits_for_the_bucket_instead_of_being_throttled(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox()
    recorder = Recorder()
    with client_for(base_url, recorder) as client:
        order_id = first_order_id(client)
        sandbox.control.drain_bucket()
        # First contact with an empty bucket the model does not know yet: THROTTLED, then a paced retry.
        client.execute("OrderForAction", {"id": order_id})
        assert recorder.codes.count("THROTTLED") <= 1
        throttled_before, points_before = recorder.codes.count("THROTTLED"), recorder.actual_points
        started = time.monotonic()
        errors: list[BaseException] = []

        def burst() -> None:
            try:
                while time.monotonic() - started < 4.0:
                    client.execute("OrderForAction", {"id": order_id})
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert errors == []
    assert recorder.codes.count("THROTTLED") == throttled_before, "the paced burst was throttled"
    achieved = (recorder.actual_points - points_before) / elapsed
    # Restore rate 100 points/s; the bench measures the exact fraction, this only catches a pacer that idles.
    assert achieved >= 0.6 * 100, achieved


def test_paginate_reads_every_order_once(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox()
    recorder = Recorder()
    with client_for(base_url, recorder) as client:
        pages = list(client.paginate("OrdersPage", {"first": 2}, connection="orders"))
    ids = [node["id"] for page in pages for node in page["nodes"]]
    assert len(ids) == sandbox.config.orders
    assert len(set(ids)) == len(ids)
    assert recorder.sent == len(pages) == 15


def orders_with(client: ShopifyClient, fulfillment_status: str) -> list[dict[str, Any]]:
    found = []
    for page in client.paginate("OrdersPage", {"first": 2}, connection="orders"):
        found += [
            o for o in page["nodes"] if o["displayFulfillmentStatus"] == fulfillment_status and not o["cancelledAt"]
        ]
    return found


def refund_variables(order: dict[str, Any], key: str) -> dict[str, Any]:
    line = order["lineItems"]["nodes"][0]
    refund_line = {"lineItemId": line["id"], "quantity": 1, "restockType": "NO_RESTOCK"}
    return {"input": {"orderId": order["id"], "refundLineItems": [refund_line], "notify": False}, "idempotencyKey": key}


def test_every_document_is_answered_by_the_sandbox(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox(plan="plus")
    with client_for(base_url, Recorder(), max_attempts=1) as client:
        order = client.execute("OrderById", {"id": sandbox.control.create_order(status="paid")})["order"]
        fulfillment_order = order["fulfillmentOrders"]["nodes"][0]["id"]
        line = {"lineItemId": order["lineItems"]["nodes"][0]["id"], "quantity": 1}
        from integrations.shopify import documents

        bulk = client.execute("BulkOperationRunQuery", {"query": documents.load("BulkOrdersQuery").source})
        raise_for_user_errors(bulk["bulkOperationRunQuery"])
        cancel = client.execute("OrderCancel", {"orderId": order["id"], "reason": "CUSTOMER", "restock": True,
                                                "notifyCustomer": False, "staffNote": "client test"})  # fmt: skip
        raise_for_user_errors(cancel["orderCancel"], key="orderCancelUserErrors")
        answers = {
            "OrderById": client.execute("OrderById", {"id": order["id"]})["order"],
            "OrderForAction": client.execute("OrderForAction", {"id": order["id"]})["order"],
            "SuggestedRefund": client.execute("SuggestedRefund", {"id": order["id"], "refundLineItems": [line]})[
                "order"
            ],
            "BulkOperationById": client.execute(
                "BulkOperationById", {"id": bulk["bulkOperationRunQuery"]["bulkOperation"]["id"]}
            )["bulkOperation"],
            "CurrentBulkOperation": client.execute("CurrentBulkOperation")["currentBulkOperation"],
            "JobById": client.execute("JobById", {"id": cancel["orderCancel"]["job"]["id"]})["job"],
            "WebhookSubscriptions": client.execute("WebhookSubscriptions", {"first": 5})["webhookSubscriptions"],
            "FulfillmentOrderCancel": client.execute("FulfillmentOrderCancel", {"id": fulfillment_order}),
            "FulfillmentOrderSubmitCancellationRequest": client.execute(
                "FulfillmentOrderSubmitCancellationRequest", {"id": fulfillment_order, "message": "client test"}
            ),
            "RefundCreate": client.execute("RefundCreate", refund_variables(order, "every-document")),
        }
    assert all(answer is not None for answer in answers.values()), answers


def test_order_cancel_refusal_is_a_user_error_with_a_code(make_sandbox: Any) -> None:
    _, base_url = make_sandbox()
    recorder = Recorder()
    with client_for(base_url, recorder) as client:
        fulfilled = orders_with(client, "FULFILLED")[0]
        sent_before = recorder.sent
        data = client.execute("OrderCancel", {"orderId": fulfilled["id"], "reason": "CUSTOMER", "restock": False})
    with pytest.raises(ShopifyUserErrors) as caught:
        raise_for_user_errors(data["orderCancel"], key="orderCancelUserErrors", operation="OrderCancel")
    assert caught.value.codes
    assert recorder.sent == sent_before + 1


def test_refund_create_is_resent_with_its_key_and_applied_once(make_sandbox: Any) -> None:
    sandbox, base_url = make_sandbox(plan="plus")
    recorder = Recorder()
    with client_for(base_url, recorder, max_attempts=10) as client:
        order = client.execute("OrderById", {"id": sandbox.control.create_order(status="paid")})["order"]
        sandbox.control.set_faults(drop_response_rate=0.6)
        data = client.execute("RefundCreate", refund_variables(order, "refund-intent-1"))
        sandbox.control.clear_faults()
    raise_for_user_errors(data["refundCreate"])
    assert data["refundCreate"]["refund"]["id"]
    assert sandbox.control.applied_counts(order["id"]).get("refundCreate") == 1
    assert sandbox.control.mutation_counts(order["id"])["refundCreate"] >= 1


@pytest.mark.slow
def test_clients_of_one_shop_share_the_bucket_and_are_not_throttled(make_sandbox: Any) -> None:
    from integrations.shopify.throttle import forget_buckets

    forget_buckets()
    sandbox, base_url = make_sandbox()
    recorders = [Recorder(), Recorder()]
    clients = [
        ShopifyClient(SHOP, TOKEN, api_url=base_url, transport=recorder, backoff_initial=0.01) for recorder in recorders
    ]
    try:
        assert clients[0].bucket is clients[1].bucket
        order_id = first_order_id(clients[0])
        sandbox.control.drain_bucket()
        clients[0].execute("OrderForAction", {"id": order_id})  # learns that the bucket is empty
        started = time.monotonic()

        def burst(client: ShopifyClient) -> None:
            while time.monotonic() - started < 3.0:
                client.execute("OrderForAction", {"id": order_id})

        threads = [threading.Thread(target=burst, args=(client,)) for client in clients for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for client in clients:
            client.close()
    throttled = [recorder.codes.count("THROTTLED") for recorder in recorders]
    assert throttled[1] == 0, "the second client did not know what the first had spent"
    assert throttled[0] <= 1  # only the request that discovered the drained bucket
    assert all(recorder.sent > 3 for recorder in recorders)
