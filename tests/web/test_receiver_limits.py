"""The receiver under hostile input: oversized delivery headers are a 400 before any query, and unknown
shop domains cost at most one query per second however many arrive."""

from __future__ import annotations

import secrets
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from integrations.shopify.webhooks import sign
from models import Shop, WebhookDelivery
from tests.support.shopify import receiver_shop
from worker.db import get_engine
from worker.mirror import receiver
from worker.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette would rather have httpx2; httpx is what the project ships
    from starlette.testclient import TestClient

SECRET = "whsec-limits-secret"
DOMAIN = "limits-test.myshopify.com"
BODY = b'{"id": 1}'


@pytest.fixture
def client(committed_db: Engine) -> Iterator[TestClient]:
    with receiver_shop(committed_db, DOMAIN, SECRET), TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(get_engine(), "before_cursor_execute", record)
    yield seen
    event.remove(get_engine(), "before_cursor_execute", record)


def _headers(domain: str = DOMAIN, **overrides: str) -> dict[str, str]:
    return {
        "X-Shopify-Topic": "orders/updated", "X-Shopify-Hmac-Sha256": sign(SECRET, BODY),
        "X-Shopify-Shop-Domain": domain, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()), "X-Shopify-API-Version": "2026-10", **overrides,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Shopify-Webhook-Id", "w" * 101),
        ("X-Shopify-Topic", "orders/" + "u" * 94),
        ("X-Shopify-Event-Id", "e" * 101),
        ("X-Shopify-API-Version", "2026-10-" + "9" * 9),
    ],
)
def test_a_signed_delivery_with_an_oversized_header_is_a_400_before_any_query(
    client: TestClient, committed_db: Engine, statements: list[str], header: str, value: str
) -> None:
    statements.clear()
    response = client.post("/webhooks/shopify", content=BODY, headers=_headers(**{header: value}))
    assert response.status_code == 400, response.text  # a 503 would be retried by Shopify forever
    assert header.lower() in response.json()["error"]
    assert statements == []
    with Session(committed_db) as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_headers_at_the_column_limits_are_accepted(client: TestClient) -> None:
    headers = _headers(**{"X-Shopify-Webhook-Id": "w" * 100, "X-Shopify-Event-Id": "e" * 100})
    response = client.post("/webhooks/shopify", content=BODY, headers=headers)
    assert (response.status_code, response.json()["status"]) == (200, "accepted")


def test_unique_unknown_domains_cost_at_most_one_shop_query_per_second(
    client: TestClient, statements: list[str]
) -> None:
    statements.clear()
    started = time.monotonic()
    for _ in range(400):
        domain = secrets.token_hex(8) + ".myshopify.com"
        assert client.post("/webhooks/shopify", content=BODY, headers=_headers(domain)).status_code == 404
    elapsed = time.monotonic() - started
    shop_queries = [s for s in statements if "FROM shops" in s]
    assert len(shop_queries) <= elapsed + 2, (len(shop_queries), elapsed)  # was one per domain: 400
    assert client.post("/webhooks/shopify", content=BODY, headers=_headers()).status_code == 200  # known: served


def test_a_shop_added_while_running_is_known_on_its_first_delivery(client: TestClient, committed_db: Engine) -> None:
    assert client.post("/webhooks/shopify", content=BODY, headers=_headers("newer.myshopify.com")).status_code == 404
    with Session(committed_db) as session:
        session.add(Shop(domain="newer.myshopify.com", client_secret=SECRET, access_token="shpat_y"))
        session.commit()
    time.sleep(receiver.shops.miss_refresh_seconds + 0.1)  # a miss re-reads the shops at most once a second
    response = client.post("/webhooks/shopify", content=BODY, headers=_headers("newer.myshopify.com"))
    assert (response.status_code, response.json()["status"]) == (200, "accepted")
