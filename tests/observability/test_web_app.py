"""The web app: liveness, readiness naming what failed, and /metrics whose counters move with traffic."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from models import Shop, WebhookDelivery
from models.types import utcnow
from worker.observability import metrics
from worker.observability.logging import configure_logging
from worker.settings import Settings
from worker.web import app as web_app
from worker.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette would rather have httpx2; httpx is what the project ships
    from starlette.testclient import TestClient


def _settings(database_url: str, tmp_path: Path, **extra: str) -> Settings:
    values = {"DATABASE_URL": database_url, "REDIS_URL": "", "DROPSYNC_EMBEDDED_BROKER_PATH": str(tmp_path / "b.db")}
    return Settings(**{**values, **extra})


@pytest.fixture
def client(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(web_app, "ROUTE_MODULES", ["tests.observability.routes_fixture"])
    with TestClient(create_app(_settings(database_url, tmp_path))) as test_client:
        yield test_client


def _scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_healthz_answers_and_echoes_a_sane_request_id(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "edge-abc.123"})
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert response.headers["x-request-id"] == "edge-abc.123"
    forged = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline" * 3})
    assert forged.headers["x-request-id"] != "bad id\nwith newline" * 3
    assert len(forged.headers["x-request-id"]) == 32


def test_readyz_is_ready_on_a_migrated_database(client: TestClient) -> None:
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert body["failed"] == []
    assert set(body["checks"]) == {"database", "broker", "migrations"}
    assert body["checks"]["migrations"]["detail"].startswith("at head")


def test_readyz_names_unapplied_migrations(tmp_path: Path) -> None:
    settings = _settings(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path)
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["migrations"]
    assert "revision none" in response.json()["checks"]["migrations"]["detail"]


def test_readyz_names_an_unusable_embedded_broker(database_url: str, tmp_path: Path) -> None:
    settings = _settings(database_url, tmp_path, DROPSYNC_EMBEDDED_BROKER_PATH=str(tmp_path / "missing" / "b.db"))
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]


def test_readyz_reports_an_unreachable_database_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://dropsync:pw-s3cret-xyz@127.0.0.1:1/ledger?connect_timeout=1"
    with TestClient(create_app(_settings(url, tmp_path))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert set(response.json()["failed"]) == {"database", "migrations"}
    assert "pw-s3cret-xyz" not in response.text


def test_metrics_counters_move_with_traffic(client: TestClient) -> None:
    before = _scrape(client)
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page")
    client.post("/feature/1001", headers={"X-Shopify-Topic": "orders/create"})
    client.post("/feature/1001", headers={"X-Shopify-Topic": "orders/create"})
    client.post("/feature/1002")
    after = _scrape(client)

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("dropsync_http_requests_total", method="GET", route="/healthz", status="200") == 3
    assert moved("dropsync_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert moved("dropsync_http_requests_total", method="POST", route="/feature/{order:int}", status="200") == 2
    assert moved("dropsync_http_requests_total", method="GET", route="/metrics", status="200") == 1
    assert moved("dropsync_http_request_seconds_count", method="GET", route="/healthz") == 3
    assert moved("dropsync_webhooks_received_total", topic="orders/create") == 2
    assert moved("dropsync_webhooks_rejected_total", reason="missing_header") == 1
    assert after[("dropsync_ledger_metrics_up", ())] == 1


def test_ledger_gauges_come_from_committed_rows_not_process_memory(
    client: TestClient, committed_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.orm import Session

    with Session(committed_db) as session, session.begin():
        shop = Shop(domain="web-metrics.myshopify.com")
        session.add(shop)
        session.flush()
        session.add(
            WebhookDelivery(shop_id=shop.id, delivery_id="w-1", topic="orders/create", body="{}", received_at=utcnow())
        )
    metrics.INTENTS.labels(state="pending").set(999)  # a stale in-process value must not be served
    response = client.get("/metrics")
    values = _scrape(client)
    assert values[("dropsync_inbox_unhandled", ())] == 1
    assert values[("dropsync_inbox_lag_seconds", ())] >= 0
    assert values[("dropsync_intents", (("state", "pending"),))] == 0
    assert response.text.count("# TYPE dropsync_intents gauge") == 1


def test_log_lines_of_a_request_carry_its_request_id_and_feature_context(client: TestClient) -> None:
    stream = io.StringIO()
    configure_logging(Settings(DROPSYNC_LOG_FORMAT="json"), stream=stream)
    try:
        response = client.post("/feature/77", headers={"X-Shopify-Topic": "orders/paid", "X-Request-ID": "req-77"})
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    stored = next(line for line in lines if line["event"] == "webhook stored")
    assert response.headers["x-request-id"] == "req-77"
    assert (stored["request_id"], stored["shop_id"], stored["order_id"]) == ("req-77", 1, 77)
    assert "ann@example.com" not in stream.getvalue()
    access = next(line for line in lines if line["event"] == "request")
    assert (access["request_id"], access["status"], access["route"]) == ("req-77", 200, "/feature/{order:int}")


def test_a_route_module_without_routes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_app, "ROUTE_MODULES", ["tests.observability"])
    with pytest.raises(TypeError, match=r"tests\.observability is listed .*routes"):
        create_app(Settings())
