"""The REST Admin API as Shopify answers it: versions, page_info rules, filters, the REST bucket, JSON errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandboxes.shopify import SandboxConfig, ShopifySandbox
from tests.shopify_sandbox.helpers import data


def rest(sandbox: ShopifySandbox, path: str, version: str = "2026-10", **params: Any) -> httpx.Response:
    url = f"{sandbox.base_url}/admin/api/{version}/{path}"
    return httpx.get(url, params=params, headers={"X-Shopify-Access-Token": sandbox.config.access_token}, timeout=30)


def _next(response: httpx.Response) -> str | None:
    header: str = response.headers.get("link", "")
    for link in header.split(", "):
        if link.endswith('rel="next"'):
            return link[1 : link.index(">")]
    return None


def test_versions_fall_forward_and_every_answer_names_the_version(shopify_sandbox: ShopifySandbox) -> None:
    for asked, served in (
        ("2024-10", "2025-10"),
        ("2026-04", "2026-04"),
        ("2026-10", "2026-10"),
        ("2031-01", "2025-10"),
    ):
        answer = rest(shopify_sandbox, "shop.json", asked)
        assert answer.status_code == 200
        assert answer.headers["x-shopify-api-version"] == served
        graphql = httpx.post(
            f"{shopify_sandbox.base_url}/admin/api/{asked}/graphql.json",
            json={"query": "{ shop { name } }"},
            headers={"X-Shopify-Access-Token": shopify_sandbox.config.access_token},
        )
        assert graphql.status_code == 200
        assert graphql.headers["x-shopify-api-version"] == served
    for malformed in ("latest", "2026-13", "2026-00", "2026-1"):
        assert rest(shopify_sandbox, "shop.json", malformed).json() == {"errors": "Not Found"}, malformed


def test_errors_are_json_everywhere(shopify_sandbox: ShopifySandbox) -> None:
    unknown = httpx.get(f"{shopify_sandbox.base_url}/admin/api/2026-10/products/1/nothing.json")
    assert (unknown.status_code, unknown.json()) == (404, {"errors": "Not Found"})
    assert httpx.get(f"{shopify_sandbox.base_url}/whatever").json() == {"errors": "Not Found"}
    create = httpx.post(f"{shopify_sandbox.base_url}/admin/api/2026-10/orders.json", json={"order": {}})
    assert create.status_code == 405
    assert create.json() == {"errors": "not supported by the sandbox: POST /admin/api/2026-10/orders.json"}
    anonymous = httpx.get(f"{shopify_sandbox.base_url}/admin/api/2026-10/orders.json")
    assert anonymous.status_code == 401
    assert "Invalid API key or access token" in anonymous.json()["errors"]
    assert rest(shopify_sandbox, "orders/123.json").json() == {"errors": "Not Found"}
    assert rest(shopify_sandbox, "orders.json", limit=251).json() == {
        "errors": {"limit": ["must be an integer between 1 and 250"]}
    }
    assert "status" in rest(shopify_sandbox, "orders.json", status="weird").json()["errors"]
    assert "updated_at_min" in rest(shopify_sandbox, "orders.json", updated_at_min="yesterday").json()["errors"]


def test_page_info_requests_take_only_limit_and_fields(shopify_sandbox: ShopifySandbox) -> None:
    first = rest(shopify_sandbox, "orders.json", status="any", limit=5, fields="id,name")
    assert 'rel="previous"' not in first.headers["link"]
    link = _next(first)
    assert link is not None
    assert "limit=5" in link
    assert "fields=id,name" in link
    second = httpx.get(link, headers={"X-Shopify-Access-Token": shopify_sandbox.config.access_token})
    assert [set(order) for order in second.json()["orders"]] == [{"id", "name"}] * 5
    assert 'rel="previous"' in second.headers["link"]
    assert 'rel="next"' in second.headers["link"]
    refused = httpx.get(link + "&status=any", headers={"X-Shopify-Access-Token": shopify_sandbox.config.access_token})
    assert refused.status_code == 400
    assert "page_info" in refused.json()["errors"]
    assert rest(shopify_sandbox, "orders.json", page_info="garbage").json() == {
        "errors": {"page_info": ["Invalid value."]}
    }


def test_filters_match_the_graphql_search(shopify_sandbox: ShopifySandbox) -> None:
    nodes = data(shopify_sandbox, "{ orders(first: 50) { nodes { legacyResourceId updatedAt createdAt } } }")
    orders = nodes["orders"]["nodes"]
    middle = orders[20]
    since = rest(shopify_sandbox, "orders.json", status="any", since_id=middle["legacyResourceId"], limit=250)
    assert [o["id"] for o in since.json()["orders"]] == [int(o["legacyResourceId"]) for o in orders[21:]]
    updated = rest(shopify_sandbox, "orders.json", status="any", updated_at_min=middle["updatedAt"], limit=250)
    expected = {int(o["legacyResourceId"]) for o in orders if o["updatedAt"] >= middle["updatedAt"]}
    assert {o["id"] for o in updated.json()["orders"]} == expected
    window = {"created_at_min": orders[10]["createdAt"], "created_at_max": orders[14]["createdAt"]}
    assert rest(shopify_sandbox, "orders/count.json", status="any", **window).json() == {"count": 5}
    query = '{ ordersCount(query: "financial_status:paid") { count } }'
    paid = data(shopify_sandbox, query)["ordersCount"]["count"]
    assert rest(shopify_sandbox, "orders/count.json", status="any", financial_status="paid").json()["count"] == paid
    newest_first = rest(shopify_sandbox, "orders.json", status="any", limit=3).json()["orders"]
    assert [o["id"] for o in newest_first] == [int(o["legacyResourceId"]) for o in orders[::-1][:3]]


def test_order_children_and_deleted_order_events(shopify_sandbox: ShopifySandbox) -> None:
    orders = rest(shopify_sandbox, "orders.json", status="any", limit=250).json()["orders"]
    refunded = next(o for o in orders if o["financial_status"] == "partially_refunded")
    refunds = rest(shopify_sandbox, f"orders/{refunded['id']}/refunds.json").json()["refunds"]
    assert [r["id"] for r in refunds] == [r["id"] for r in refunded["refunds"]]
    assert refunds
    fulfillment_orders = rest(shopify_sandbox, f"orders/{refunded['id']}/fulfillment_orders.json").json()
    assert fulfillment_orders["fulfillment_orders"][0]["order_id"] == refunded["id"]
    assert fulfillment_orders["fulfillment_orders"][0]["status"] in ("in_progress", "closed")
    gone = orders[3]
    shopify_sandbox.control.delete_order(gone["id"])
    events = rest(shopify_sandbox, "events.json", filter="Order", verb="destroy").json()["events"]
    assert [(e["subject_id"], e["verb"], e["subject_type"]) for e in events] == [(gone["id"], "destroy", "Order")]
    assert rest(shopify_sandbox, f"orders/{gone['id']}.json").status_code == 404
    assert rest(shopify_sandbox, "events.json", filter="Product").json() == {"events": []}
    for order in orders[5:8]:
        shopify_sandbox.control.delete_order(order["id"])
    first = rest(shopify_sandbox, "events.json", filter="Order", verb="destroy", limit=3)
    link = _next(first)
    assert link is not None
    second = httpx.get(link, headers={"X-Shopify-Access-Token": shopify_sandbox.config.access_token})
    assert _next(second) is None
    pages = [e["subject_id"] for e in first.json()["events"] + second.json()["events"]]
    assert pages == [o["id"] for o in reversed([gone, *orders[5:8]])]  # newest first, each once
    since = rest(shopify_sandbox, "events.json", since_id=events[0]["id"]).json()["events"]
    assert [e["subject_id"] for e in since] == [o["id"] for o in orders[5:8]]  # oldest first after since_id
    scopes = httpx.get(
        f"{shopify_sandbox.base_url}/admin/oauth/access_scopes.json",
        headers={"X-Shopify-Access-Token": shopify_sandbox.config.access_token},
    ).json()["access_scopes"]
    assert {"handle": "read_orders"} in scopes


@pytest.fixture
def tiny_bucket() -> Iterator[ShopifySandbox]:
    sandbox = ShopifySandbox(SandboxConfig(seed=2, orders=5, rest_bucket_size=3, rest_restore_rate=1))
    with sandbox.serve():
        yield sandbox
    sandbox.close()


def test_rest_bucket_answers_429_with_retry_after_then_recovers(tiny_bucket: ShopifySandbox) -> None:
    first = rest(tiny_bucket, "shop.json")
    assert first.headers["x-shopify-shop-api-call-limit"] == "1/3"
    answers = [rest(tiny_bucket, "shop.json") for _ in range(20)]  # leaks 1/s: a burst empties it at any load
    throttled = next(answer for answer in answers if answer.status_code == 429)
    assert throttled.headers["x-shopify-shop-api-call-limit"] == "3/3"
    assert float(throttled.headers["retry-after"]) > 0
    assert throttled.json() == {
        "errors": "Exceeded 1 calls per second for api client. Reduce request rates to resume uninterrupted service."
    }
    # GraphQL has its own (cost) bucket: an empty REST bucket does not throttle it.
    graphql = httpx.post(
        tiny_bucket.graphql_url(),
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": tiny_bucket.config.access_token},
    )
    assert "errors" not in graphql.json()
    time.sleep(float(throttled.headers["retry-after"]) + 0.1)
    assert rest(tiny_bucket, "shop.json").status_code == 200
