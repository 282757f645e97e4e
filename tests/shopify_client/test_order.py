"""The typed Shopify order: one sandbox order read by REST and by GraphQL parses to the same order."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import orjson
import pytest

from integrations.shopify.client import ShopifyClient
from integrations.shopify.order import (
    LINE_NOT_IN_REST,
    NOT_IN_REST,
    REST_UNFULFILLED,
    OrderPayloadError,
    ShopifyOrder,
    parse_graphql_order,
    parse_rest_order,
    parse_time,
)
from sandboxes.shopify import ShopifySandbox

#: Seeded orders (seed 1) with something to compare: plain; cancelled and refunded; fulfilled and
#: partially refunded; partially fulfilled.
NAMES = ("#1001", "#1010", "#1023", "#1032")
T = TypeVar("T")


@pytest.fixture
def client(shopify_sandbox: ShopifySandbox) -> Iterator[ShopifyClient]:
    config = shopify_sandbox.config
    with ShopifyClient(config.shop_domain, config.access_token, api_url=shopify_sandbox.base_url) as c:
        yield c


def read_rest(sandbox: ShopifySandbox, gid: str) -> dict[str, Any]:
    legacy_id = gid.rsplit("/", 1)[1]
    url = f"{sandbox.base_url}/admin/api/2026-10/orders/{legacy_id}.json"
    answer = httpx.get(url, headers={"X-Shopify-Access-Token": sandbox.config.access_token}, timeout=30)
    answer.raise_for_status()
    order: dict[str, Any] = answer.json()["order"]
    return order


def to_seconds(value: T) -> T:
    """A dataclass with every instant cut to the second, as REST prints them."""
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(value):  # type: ignore[arg-type]
        found = getattr(value, field.name)
        if isinstance(found, dt.datetime):
            changes[field.name] = found.replace(microsecond=0)
        elif isinstance(found, tuple) and found and dataclasses.is_dataclass(found[0]):
            changes[field.name] = tuple(to_seconds(item) for item in found)
    return dataclasses.replace(value, **changes)  # type: ignore[type-var]


def as_rest_sees_it(order: ShopifyOrder) -> ShopifyOrder:
    """What REST carries of a GraphQL reading: no ``NOT_IN_REST`` field, only the refunds' transactions,
    instants to the second, and "not fulfilled yet" in one word."""
    refunds_moved = tuple(t for t in order.transactions or () if t.kind == "REFUND")
    status = order.display_fulfillment_status
    return to_seconds(
        dataclasses.replace(
            order,
            **dict.fromkeys(NOT_IN_REST),
            lines=tuple(dataclasses.replace(li, **dict.fromkeys(LINE_NOT_IN_REST)) for li in order.lines or ()),
            transactions=refunds_moved or None,
            display_fulfillment_status="UNFULFILLED" if status in REST_UNFULFILLED else status,
        )
    )


@pytest.mark.parametrize("name", NAMES)
def test_rest_and_graphql_readings_of_one_order_are_equal(
    shopify_sandbox: ShopifySandbox, client: ShopifyClient, name: str
) -> None:
    gid = shopify_sandbox.control.snapshot(name)["id"]
    by_graphql = parse_graphql_order(client.execute("OrderById", {"id": gid})["order"], source="reconcile")
    by_rest = parse_rest_order(read_rest(shopify_sandbox, gid), source="webhook")

    assert by_rest == as_rest_sees_it(by_graphql)
    assert (by_rest.shape, by_graphql.shape) == ("rest", "graphql")
    assert by_graphql.from_graphql
    assert not by_rest.from_graphql
    assert all(getattr(by_rest, f) is None for f in NOT_IN_REST)
    assert by_rest.lines
    assert all(isinstance(li.unit_price, Decimal) for li in by_rest.lines)


def test_an_order_read_in_bulk_keeps_its_document_as_json(
    shopify_sandbox: ShopifySandbox, client: ShopifyClient
) -> None:
    """``serialized_raw`` (the backfill): the same order, its document held as JSON bytes, not objects."""
    node = client.execute("OrderById", {"id": shopify_sandbox.control.snapshot("#1023")["id"]})["order"]
    kept = parse_graphql_order(node, serialized_raw=True)
    assert kept == parse_graphql_order(node)
    assert isinstance(kept.raw, orjson.Fragment)
    assert orjson.loads(orjson.dumps(kept.raw)) == node


def test_a_refunded_order_carries_its_money_as_decimals_in_the_shop_currency(
    shopify_sandbox: ShopifySandbox, client: ShopifyClient
) -> None:
    gid = shopify_sandbox.control.snapshot("#1023")["id"]
    order = parse_graphql_order(client.execute("OrderById", {"id": gid})["order"])
    assert order.refunds
    assert order.transactions
    assert order.total_refunded == sum((r.total_refunded for r in order.refunds), Decimal(0)) > 0
    assert {r.currency for r in order.refunds} | {t.currency for t in order.transactions} == {order.currency}
    rest = parse_rest_order(read_rest(shopify_sandbox, gid))
    assert rest.refunds == to_seconds(order).refunds


def test_the_cancellation_read_parses_to_the_same_order_state(
    shopify_sandbox: ShopifySandbox, client: ShopifyClient
) -> None:
    gid = shopify_sandbox.control.snapshot("#1010")["id"]
    full = parse_graphql_order(client.execute("OrderById", {"id": gid})["order"])
    for_action = parse_graphql_order(client.execute("OrderForAction", {"id": gid})["order"])
    same = ("gid", "name", "created_at", "updated_at", "cancelled_at", "currency", "total_refunded", "total_received")
    assert {f: getattr(for_action, f) for f in same} == {f: getattr(full, f) for f in same}
    # OrderForAction does not select the refunds' line items: the rest of each refund is the same.
    assert [dataclasses.replace(r, refund_line_items=()) for r in full.refunds or ()] == list(for_action.refunds or ())
    assert [li.gid for li in for_action.lines or ()] == [li.gid for li in full.lines or ()]


def test_a_field_the_payload_does_not_carry_is_unknown_not_zero() -> None:
    node = {"id": "gid://shopify/Order/1", "currencyCode": "KWD", "createdAt": "2026-11-01T10:00:00Z",
            "updatedAt": "2026-11-01T10:00:00Z", "totalPriceSet": {"shopMoney": {"amount": "12.345"}}}  # fmt: skip
    order = parse_graphql_order(node)
    assert order.total_price == Decimal("12.345")
    assert (order.total_received, order.lines, order.refunds, order.transactions) == (None, None, None, None)


@pytest.mark.parametrize(
    "payload",
    [
        {"currency": "USD", "created_at": "2026-11-01T10:00:00Z", "updated_at": "2026-11-01T10:00:00Z"},
        {"id": 1, "created_at": "2026-11-01T10:00:00Z", "updated_at": "2026-11-01T10:00:00Z"},
        {"id": 1, "currency": "USD", "created_at": "2026-11-01T10:00:00Z"},
        {"id": 1, "currency": "USD", "created_at": "2026-11-01T10:00:00Z", "updated_at": "2026-11-01T10:00:00"},
    ],
    ids=["no id", "no currency", "no updated_at", "no zone"],
)
def test_an_unreadable_order_is_rejected(payload: dict[str, Any]) -> None:
    with pytest.raises(OrderPayloadError):
        parse_rest_order(payload)


def test_times_are_utc_whatever_the_offset() -> None:
    assert parse_time("2026-11-01T12:00:00+02:00") == parse_time("2026-11-01T10:00:00Z")
    assert parse_time(None) is None
    assert parse_time("") is None
