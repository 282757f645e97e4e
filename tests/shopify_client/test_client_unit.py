"""The client's channel typing, retry policy and pacing, over an in-memory HTTP transport.

The same behaviours are exercised against the Shopify sandbox in test_client_sandbox.py; here every
response is scripted so each rule is pinned down exactly (what is retried, what is not, how long it waits).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from integrations.errors import IntegrationUsageError
from integrations.shopify import documents
from integrations.shopify.client import ShopifyClient, forget_requested_costs, record_throttle_status
from integrations.shopify.errors import (
    ShopifyGraphQLError,
    ShopifyHTTPError,
    ShopifyOutcomeUnknown,
    ShopifyThrottled,
    ShopifyTransportError,
    ShopifyUserErrors,
    raise_for_user_errors,
)
from integrations.shopify.throttle import CostBucket
from models.shop import Shop
from worker.errors import UsageError
from worker.settings import Settings
from worker.shopify_clients import PROMETHEUS_OBSERVER, shopify_client_for

Reply = Callable[[httpx.Request], httpx.Response]


def cost(
    requested: float = 10, actual: float | None = 10, available: float = 1990, rate: float = 100
) -> dict[str, Any]:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                     "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available,
                                        "restoreRate": rate}}}  # fmt: skip


def ok(data: dict[str, Any], **cost_args: Any) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "extensions": cost(**cost_args)})


def throttled(requested: float = 300, available: float = 100) -> httpx.Response:
    errors = [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev"}}]
    return httpx.Response(200, json={"errors": errors, "extensions": cost(requested, None, available)})


class Script:
    """Answers requests from a list of replies (or exceptions to raise), recording what was sent."""

    def __init__(self, *replies: httpx.Response | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply


class Sleeps(list[float]):
    """Stands in for both the retry back-off sleep and the bucket's wait; moves a fake clock."""

    def __init__(self) -> None:
        super().__init__()
        self.bucket_waits: list[float] = []
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.bucket_waits.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def _fresh_cost_memory() -> None:
    forget_requested_costs()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(sleeps: Sleeps) -> Iterator[Callable[[Script], ShopifyClient]]:
    clients: list[ShopifyClient] = []

    def make(script: Script) -> ShopifyClient:
        client = ShopifyClient(
            "unit.myshopify.com",
            "shpat_test",
            api_url="http://shopify.test",
            transport=httpx.MockTransport(script),
            bucket=CostBucket(sleeps.clock, sleeps.wait),
            sleep=sleeps,
            observer=PROMETHEUS_OBSERVER,  # as the worker builds it: test_metrics_* reads the counters
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


SHOP_QUERY = "{ shop { id } }"
CANCEL_VARS = {"orderId": "gid://shopify/Order/1", "reason": "CUSTOMER", "restock": True}


def test_sends_the_document_to_the_versioned_endpoint_with_the_token(
    make_client: Callable[[Script], ShopifyClient],
) -> None:
    script = Script(ok({"order": {"id": "gid://shopify/Order/1"}}))
    client = make_client(script)
    data = client.execute("OrderById", {"id": "gid://shopify/Order/1"})
    assert data == {"order": {"id": "gid://shopify/Order/1"}}
    request = script.requests[0]
    assert str(request.url) == "http://shopify.test/admin/api/2026-10/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == "shpat_test"
    body = json.loads(request.content)
    assert body["query"] == documents.load("OrderById").source
    assert body["variables"] == {"id": "gid://shopify/Order/1"}


def test_default_endpoint_is_the_shops_myshopify_domain() -> None:
    with ShopifyClient("https://Acme.myshopify.com/", "t") as client:
        assert client.endpoint == "https://acme.myshopify.com/admin/api/2026-10/graphql.json"


def test_bad_configuration_is_a_usage_error() -> None:
    with pytest.raises(IntegrationUsageError, match="API version"):
        ShopifyClient("a.myshopify.com", "t", api_version="latest")
    with pytest.raises(IntegrationUsageError, match="access token"):
        ShopifyClient("a.myshopify.com", "")
    with pytest.raises(IntegrationUsageError, match="shop domain") as caught:
        ShopifyClient("", "t")
    assert caught.value.exit_code == 2  # the CLI's exit code for usage errors


def test_throttle_status_is_reported_and_storable(make_client: Callable[[Script], ShopifyClient]) -> None:
    client = make_client(Script(ok({"shop": {"id": "1"}}, requested=12, actual=3, available=1997.5)))
    client.execute(SHOP_QUERY)
    assert client.throttle_status is not None
    assert client.throttle_status.currently_available == 1997.5
    shop = Shop(domain="unit.myshopify.com")
    record_throttle_status(shop, client.throttle_status)
    assert str(shop.throttle_currently_available) == "1997.5"
    assert str(shop.throttle_restore_rate) == "100.0"
    assert shop.throttle_observed_at is not None


def test_http_4xx_is_an_http_error_and_not_retried(make_client: Callable[[Script], ShopifyClient]) -> None:
    script = Script(httpx.Response(401, json={"errors": "[API] Invalid API key or access token"}))
    with pytest.raises(ShopifyHTTPError) as caught:
        make_client(script).execute(SHOP_QUERY)
    assert caught.value.status == 401
    assert "Invalid API key" in caught.value.body_excerpt
    assert len(script.requests) == 1


def test_top_level_errors_are_a_graphql_error_and_not_retried(make_client: Callable[[Script], ShopifyClient]) -> None:
    errors = [{"message": "Field 'nope' doesn't exist on type 'Shop'", "extensions": {"code": "undefinedField"}}]
    script = Script(httpx.Response(200, json={"errors": errors}))
    with pytest.raises(ShopifyGraphQLError) as caught:
        make_client(script).execute("{ shop { nope } }")
    assert caught.value.codes == ["undefinedField"]
    assert not isinstance(caught.value, ShopifyThrottled)
    assert len(script.requests) == 1


def test_user_errors_come_back_as_data_and_are_never_retried(make_client: Callable[[Script], ShopifyClient]) -> None:
    payload = {"orderCancel": {"job": None, "jobResult": None,
                               "orderCancelUserErrors": [{"field": ["orderId"], "message": "Cannot cancel",
                                                          "code": "ORDER_ALREADY_CANCELLED"}]}}  # fmt: skip
    script = Script(ok(payload))
    data = make_client(script).execute("OrderCancel", CANCEL_VARS)
    with pytest.raises(ShopifyUserErrors, match="Cannot cancel"):
        raise_for_user_errors(data["orderCancel"], key="orderCancelUserErrors", operation="OrderCancel")
    assert len(script.requests) == 1


def test_throttled_waits_for_the_bucket_and_retries(
    make_client: Callable[[Script], ShopifyClient], sleeps: Sleeps
) -> None:
    script = Script(throttled(requested=300, available=100), ok({"shop": {"id": "1"}}, requested=300, actual=20))
    client = make_client(script)
    assert client.execute(SHOP_QUERY) == {"shop": {"id": "1"}}
    assert len(script.requests) == 2
    # The retry waited for the 300 points Shopify asked for with 100 available at 100/s: 2 s.
    assert sleeps == [0.0]
    assert sum(sleeps.bucket_waits) == pytest.approx(2.0)


def test_throttled_mutations_are_resent_too(make_client: Callable[[Script], ShopifyClient]) -> None:
    script = Script(throttled(requested=10, available=0), ok({"orderCancel": {"job": {"id": "j", "done": False}}}))
    make_client(script).execute("OrderCancel", CANCEL_VARS)
    assert len(script.requests) == 2


def test_pacing_waits_before_sending_instead_of_being_throttled(
    make_client: Callable[[Script], ShopifyClient], sleeps: Sleeps
) -> None:
    script = Script(ok({"shop": {"id": "1"}}, requested=1, actual=1, available=50))
    client = make_client(script)
    client.execute(SHOP_QUERY)
    client.execute("OrderById", {"id": "gid://shopify/Order/1"})  # estimated ~360 points, 50 available
    assert sleeps == []
    assert sleeps.bucket_waits == [pytest.approx((documents.estimate_cost(documents.load("OrderById")) - 50) / 100)]
    assert len(script.requests) == 2


def test_server_errors_are_retried_for_queries(make_client: Callable[[Script], ShopifyClient], sleeps: Sleeps) -> None:
    script = Script(httpx.Response(502, text="Bad gateway"), httpx.Response(503, headers={"Retry-After": "1.5"}),
                    ok({"shop": {"id": "1"}}))  # fmt: skip
    assert make_client(script).execute(SHOP_QUERY) == {"shop": {"id": "1"}}
    assert len(script.requests) == 3
    assert sleeps[1] == 1.5


def test_server_errors_exhaust_into_an_http_error(make_client: Callable[[Script], ShopifyClient]) -> None:
    script = Script(httpx.Response(500, text="oops"))
    client = make_client(script)
    with pytest.raises(ShopifyHTTPError) as caught:
        client.execute(SHOP_QUERY)
    assert caught.value.status == 500
    assert len(script.requests) == client.max_attempts


def test_a_5xx_on_a_plain_mutation_is_outcome_unknown_without_retry(
    make_client: Callable[[Script], ShopifyClient],
) -> None:
    script = Script(httpx.Response(500, text="oops"))
    with pytest.raises(ShopifyOutcomeUnknown) as caught:
        make_client(script).execute("OrderCancel", CANCEL_VARS)
    assert isinstance(caught.value.cause, ShopifyHTTPError)
    assert len(script.requests) == 1


def test_a_timeout_on_a_mutation_is_outcome_unknown_without_retry(
    make_client: Callable[[Script], ShopifyClient],
) -> None:
    script = Script(httpx.ReadTimeout("timed out"))
    with pytest.raises(ShopifyOutcomeUnknown, match="read the order before retrying"):
        make_client(script).execute("OrderCancel", CANCEL_VARS)
    assert len(script.requests) == 1


def test_idempotent_mutations_are_resent_after_a_lost_verdict(make_client: Callable[[Script], ShopifyClient]) -> None:
    script = Script(httpx.ReadTimeout("timed out"), httpx.Response(502), ok({"refundCreate": {"refund": {"id": "r"}}}))
    variables = {"input": {"orderId": "gid://shopify/Order/1"}, "idempotencyKey": "intent-1"}
    make_client(script).execute("RefundCreate", variables)
    assert len(script.requests) == 3
    assert all(json.loads(r.content)["variables"]["idempotencyKey"] == "intent-1" for r in script.requests)


def test_caller_declared_idempotency_allows_resending(make_client: Callable[[Script], ShopifyClient]) -> None:
    script = Script(httpx.ReadTimeout("timed out"), ok({"fulfillmentOrderCancel": {"userErrors": []}}))
    make_client(script).execute("FulfillmentOrderCancel", {"id": "gid://shopify/FulfillmentOrder/1"}, idempotent=True)
    assert len(script.requests) == 2


def test_idempotent_mutation_still_unknown_after_every_attempt_timed_out(
    make_client: Callable[[Script], ShopifyClient],
) -> None:
    script = Script(httpx.ReadTimeout("timed out"))
    client = make_client(script)
    with pytest.raises(ShopifyOutcomeUnknown):
        client.execute("RefundCreate", {"input": {"orderId": "gid://shopify/Order/1"}, "idempotencyKey": "k"})
    assert len(script.requests) == client.max_attempts


def test_a_mutation_that_never_left_is_resent(make_client: Callable[[Script], ShopifyClient]) -> None:
    script = Script(httpx.ConnectError("connection refused"), ok({"orderCancel": {"job": {"id": "j", "done": False}}}))
    make_client(script).execute("OrderCancel", CANCEL_VARS)
    assert len(script.requests) == 2


def test_a_mutation_that_could_never_connect_is_not_unknown(make_client: Callable[[Script], ShopifyClient]) -> None:
    script = Script(httpx.ConnectError("connection refused"))
    with pytest.raises(ShopifyTransportError) as caught:
        make_client(script).execute("OrderCancel", CANCEL_VARS)
    assert not isinstance(caught.value, ShopifyOutcomeUnknown)


def test_query_timeouts_are_retried_then_reported_as_transport_errors(
    make_client: Callable[[Script], ShopifyClient],
) -> None:
    script = Script(httpx.ReadTimeout("timed out"), ok({"shop": {"id": "1"}}))
    assert make_client(script).execute(SHOP_QUERY) == {"shop": {"id": "1"}}
    script = Script(httpx.ReadTimeout("timed out"))
    with pytest.raises(ShopifyTransportError, match="ReadTimeout"):
        make_client(script).execute(SHOP_QUERY)


def test_internal_server_error_code_is_retried_for_queries_only(make_client: Callable[[Script], ShopifyClient]) -> None:
    ise = httpx.Response(
        200, json={"errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
    )
    script = Script(ise, ok({"shop": {"id": "1"}}))
    make_client(script).execute(SHOP_QUERY)
    assert len(script.requests) == 2
    script = Script(ise)
    with pytest.raises(ShopifyOutcomeUnknown):
        make_client(script).execute("OrderCancel", CANCEL_VARS)
    assert len(script.requests) == 1


def test_a_body_that_is_not_json_is_retried_for_queries(make_client: Callable[[Script], ShopifyClient]) -> None:
    script = Script(httpx.Response(200, text="<html>proxy</html>"), ok({"shop": {"id": "1"}}))
    make_client(script).execute(SHOP_QUERY)
    assert len(script.requests) == 2


def test_for_shop_uses_the_environment_for_its_own_shop_and_columns_for_others() -> None:
    settings = Settings(SHOPIFY_SHOP_DOMAIN="first.myshopify.com", SHOPIFY_ACCESS_TOKEN="env-token",
                        SHOPIFY_API_URL="http://127.0.0.1:9", SHOPIFY_TIMEOUT_SECONDS=3)  # fmt: skip
    first = Shop(domain="first.myshopify.com", access_token="column-token", api_url="http://elsewhere")
    with shopify_client_for(first, settings) as client:
        assert client.endpoint == "http://127.0.0.1:9/admin/api/2026-10/graphql.json"
        assert client._http.headers["X-Shopify-Access-Token"] == "env-token"
        assert client._http.timeout.read == 3
    other = Shop(domain="second.myshopify.com", access_token="second-token", api_url="http://second.test")
    with shopify_client_for(other, settings) as client:
        assert client.endpoint == "http://second.test/admin/api/2026-10/graphql.json"
        assert client._http.headers["X-Shopify-Access-Token"] == "second-token"
    with pytest.raises(UsageError, match="no access token"):
        shopify_client_for(Shop(domain="third.myshopify.com"), settings)


def test_clients_of_one_shop_and_server_share_one_bucket() -> None:
    with (
        ShopifyClient("a.myshopify.com", "t", api_url="http://127.0.0.1:1") as first,
        ShopifyClient("a.myshopify.com", "t", api_url="http://127.0.0.1:1/") as second,
        ShopifyClient("a.myshopify.com", "t", api_url="http://127.0.0.1:2") as other_server,
        ShopifyClient("b.myshopify.com", "t", api_url="http://127.0.0.1:1") as other_shop,
    ):
        assert first.bucket is second.bucket
        assert first.bucket is not other_server.bucket
        assert first.bucket is not other_shop.bucket


def test_metrics_count_requests_cost_and_waiting(make_client: Callable[[Script], ShopifyClient]) -> None:
    from worker.observability.metrics import SHOPIFY_COST_POINTS, SHOPIFY_REQUESTS, SHOPIFY_THROTTLE_WAIT_SECONDS

    def value(metric: Any) -> float:
        return float(metric._value.get())

    ok_before, throttled_before = (
        value(SHOPIFY_REQUESTS.labels(outcome="ok")),
        value(SHOPIFY_REQUESTS.labels(outcome="throttled")),
    )
    points_before, waited_before = value(SHOPIFY_COST_POINTS), value(SHOPIFY_THROTTLE_WAIT_SECONDS)
    script = Script(throttled(requested=300, available=100), ok({"shop": {"id": "1"}}, requested=300, actual=42))
    make_client(script).execute(SHOP_QUERY)
    assert value(SHOPIFY_REQUESTS.labels(outcome="ok")) == ok_before + 1
    assert value(SHOPIFY_REQUESTS.labels(outcome="throttled")) == throttled_before + 1
    assert value(SHOPIFY_COST_POINTS) == points_before + 42
    assert value(SHOPIFY_THROTTLE_WAIT_SECONDS) == pytest.approx(waited_before + 2.0)


def test_wait_for_job_polls_until_done(make_client: Callable[[Script], ShopifyClient], sleeps: Sleeps) -> None:
    running, done = ok({"job": {"id": "gid://shopify/Job/1", "done": False}}), ok({"job": {"id": "j", "done": True}})
    script = Script(running, running, done)
    assert make_client(script).wait_for_job("gid://shopify/Job/1", timeout=5, interval=0.5)
    assert len(script.requests) == 3
    assert sleeps == [0.5, 0.5]
    script = Script(running)
    assert not make_client(script).wait_for_job("gid://shopify/Job/1", timeout=2, interval=0.5)
    assert len(script.requests) == 4


def test_a_deprecation_notice_is_logged(make_client: Callable[[Script], ShopifyClient]) -> None:
    from structlog.testing import capture_logs

    reply = httpx.Response(
        200,
        json={"data": {"shop": {"id": "1"}}},
        headers={"X-Shopify-API-Deprecated-Reason": "https://shopify.dev/changelog/some-field-removed"},
    )
    with capture_logs() as logs:
        make_client(Script(reply)).execute(SHOP_QUERY)
    assert [entry["reason"] for entry in logs if entry["event"] == "shopify.deprecated"] == [
        "https://shopify.dev/changelog/some-field-removed"
    ]


def test_errors_carry_shopifys_request_id(make_client: Callable[[Script], ShopifyClient]) -> None:
    reply = httpx.Response(403, json={"errors": "Forbidden"}, headers={"X-Request-Id": "req-123"})
    with pytest.raises(ShopifyHTTPError) as caught:
        make_client(Script(reply)).execute(SHOP_QUERY)
    assert caught.value.request_id == "req-123"
