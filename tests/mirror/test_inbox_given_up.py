"""A webhook delivery the drain gave up on is in front of a person, until it is applied.

The drain retries a delivery that fails (a payload it cannot apply) ``inbox.MAX_ATTEMPTS`` times, then
leaves it "for an operator (`dropsync inbox list --failed`)": no beat sweep will ever take it again. From
then on it is not scheduled, so it must be in front of a person: an alert (notified) and a line in
``dropsync check``. Otherwise an order change Shopify delivered is silently never applied (and the
``dropsync_inbox_lag_seconds`` gauge even drops back to 0, as it skips such rows).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from integrations.shopify.webhooks import sign
from models import Alert, Shop, WebhookDelivery
from tests.mirror.factories import rest_order
from tests.support.cli import InProcess, in_process
from tests.support.shopify import receiver_shop
from worker.db import session_scope
from worker.mirror import inbox
from worker.settings import get_settings
from worker.web.app import create_app

SECRET = "whsec-review-secret"
DOMAIN = "review-inbox.myshopify.com"


@pytest.fixture
def shop(committed_db: Engine) -> Iterator[Shop]:
    with receiver_shop(committed_db, DOMAIN, SECRET, "shpat_x") as shop:
        yield shop


@pytest.fixture
def client(shop: Shop) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def cli(shop: Shop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[InProcess]:
    yield in_process(monkeypatch, capsys, {"SHOPIFY_SHOP_DOMAIN": "cli-unused.myshopify.com", "COLUMNS": "300"})
    get_settings.cache_clear()


def _post(client: TestClient, payload: dict[str, Any], topic: str) -> None:
    body = json.dumps(payload).encode()
    headers = {
        "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": sign(SECRET, body), "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-01T10:00:00.123Z", "X-Shopify-API-Version": "2026-10",
        "Content-Type": "application/json",
    }  # fmt: skip
    assert client.post("/webhooks/shopify", content=body, headers=headers).status_code == 200


def test_a_delivery_the_drain_gave_up_on_is_alerted_and_listed_by_check(
    client: TestClient, committed_db: Engine, cli: InProcess
) -> None:
    _post(client, {"id": 4242, "name": "#4242"}, "orders/updated")  # signed, stored, but not applicable
    for _ in range(inbox.MAX_ATTEMPTS + 2):  # beat's mirror.drain_inbox, every 15 s
        inbox.drain(session_scope, budget_seconds=0.5)
    with Session(committed_db) as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert delivery.handled_at is None
        assert delivery.attempts >= inbox.MAX_ATTEMPTS  # nothing will take it again
        alerts = session.scalars(select(Alert).where(Alert.resolved_at.is_(None))).all()
    code, out, _ = cli("check", "--json")
    report = json.loads(out[out.index("{\n") :])  # after the log lines of the drain above
    assert report["needs_attention"], (
        f"webhook delivery {delivery.id} ({delivery.topic}) was abandoned after {delivery.attempts} attempts "
        f"({delivery.last_error}), yet dropsync check says nothing needs a person: {report}"
    )
    assert code == 1
    assert alerts, "an abandoned webhook delivery raised no alert: nobody is notified"

    (alert,) = alerts
    assert alert.kind == "webhook_delivery_failed"
    assert alert.command == f"dropsync inbox replay {delivery.id}"
    assert "orders/updated" in alert.message
    assert any(i["kind"] == "webhook_delivery_failed" for i in report["items"])
    # Still failing on a replay: the alert stays open (nothing was applied).
    code, _, _ = cli("inbox", "replay", str(delivery.id))
    with Session(committed_db) as session:
        assert session.get_one(Alert, alert.id).resolved_at is None
        # The cause is fixed (here: the payload completed), the operator replays it: applied, alert resolved.
        row = session.get_one(WebhookDelivery, delivery.id)
        row.body = json.dumps(rest_order(1))
        session.commit()
    code, out, err = cli("inbox", "replay", str(delivery.id))
    assert code == 0, err
    with Session(committed_db) as session:
        assert session.get_one(WebhookDelivery, delivery.id).handled_at is not None
        assert session.get_one(Alert, alert.id).resolved_at is not None
    code, out, _ = cli("check", "--json")
    report = json.loads(out[out.index("{\n") :])
    assert not any(i["kind"] == "webhook_delivery_failed" for i in report["items"])
