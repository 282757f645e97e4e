"""/metrics and the details of /readyz are for operators: a bearer token, on by default in production;
/healthz and /readyz's status stay open for platform probes; the worker's endpoint follows the same rule
and binds loopback unless configured."""

from __future__ import annotations

import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.observability import multiproc
from worker.observability.access import OpsGuard
from worker.settings import Settings, SettingsError, load_settings
from worker.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette would rather have httpx2; httpx is what the project ships
    from starlette.testclient import TestClient

TOKEN = "a-long-enough-ops-token-42"


def _client(database_url: str, tmp_path: Path, **extra: str) -> TestClient:
    values = {"DATABASE_URL": database_url, "REDIS_URL": "", "DROPSYNC_EMBEDDED_BROKER_PATH": str(tmp_path / "b.db")}
    return TestClient(create_app(Settings(**{**values, **extra})))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_production_without_a_token_shows_nothing_operational(database_url: str, tmp_path: Path) -> None:
    with _client(database_url, tmp_path, DROPSYNC_ENV="production") as client:
        assert client.get("/healthz").status_code == 200
        metrics = client.get("/metrics")
        assert metrics.status_code == 401
        assert metrics.headers["www-authenticate"].startswith("Bearer")
        assert "dropsync_" not in metrics.text
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})  # the probe still works
        assert client.get("/metrics", headers=_bearer("anything-at-all-really")).status_code == 401


def test_with_the_token_operators_see_metrics_and_readiness_details(database_url: str, tmp_path: Path) -> None:
    with _client(database_url, tmp_path, DROPSYNC_ENV="production", DROPSYNC_OPS_TOKEN=TOKEN) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=_bearer(TOKEN + "x")).status_code == 401
        assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        metrics = client.get("/metrics", headers=_bearer(TOKEN))
        assert metrics.status_code == 200
        assert "dropsync_http_requests_total" in metrics.text
        assert "checks" not in client.get("/readyz").json()
        detailed = client.get("/readyz", headers=_bearer(TOKEN)).json()
        assert set(detailed["checks"]) == {"database", "broker", "migrations"}


def test_an_unready_deployment_reports_503_without_naming_its_internals(tmp_path: Path) -> None:
    url = "postgresql://dropsync:pw@db.internal.example:1/ledger?connect_timeout=1"
    with _client(url, tmp_path, DROPSYNC_ENV="production", DROPSYNC_OPS_TOKEN=TOKEN) as client:
        anonymous = client.get("/readyz")
        assert (anonymous.status_code, anonymous.json()) == (503, {"status": "not ready"})
        assert "db.internal" in client.get("/readyz", headers=_bearer(TOKEN)).text


def test_rotation_accepts_every_listed_token(database_url: str, tmp_path: Path) -> None:
    new = "the-new-ops-token-0000000"
    with _client(database_url, tmp_path, DROPSYNC_OPS_TOKEN=f"{TOKEN}, {new}") as client:
        assert client.get("/metrics", headers=_bearer(TOKEN)).status_code == 200
        assert client.get("/metrics", headers=_bearer(new)).status_code == 200
        assert client.get("/metrics").status_code == 401  # a token set protects in development too


def test_development_without_a_token_stays_open(database_url: str, tmp_path: Path) -> None:
    with _client(database_url, tmp_path) as client:
        assert client.get("/metrics").status_code == 200
        assert "checks" in client.get("/readyz").json()


def test_a_short_token_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROPSYNC_OPS_TOKEN", "short")
    with pytest.raises(SettingsError, match="DROPSYNC_OPS_TOKEN") as error:
        load_settings()
    assert "short" not in str(error.value)  # a secret is never echoed


@pytest.fixture
def metrics_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    yield
    multiproc.stop_metrics_server()


def _scrape(port: int, token: str | None = None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=_bearer(token) if token else {})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_worker_endpoint_binds_loopback_by_default_and_wants_the_token(metrics_server: None) -> None:
    settings = Settings(DROPSYNC_ENV="production", DROPSYNC_OPS_TOKEN=TOKEN, DROPSYNC_WORKER_METRICS_PORT=0)
    assert settings.worker_metrics_host == "127.0.0.1"
    port = multiproc.start_metrics_server(settings.worker_metrics_host, 0, OpsGuard(settings))
    assert port is not None
    assert multiproc._state["server"].server_address[0] == "127.0.0.1"
    assert _scrape(port) == 401
    assert _scrape(port, "wrong-token-wrong-token") == 401
    assert _scrape(port, TOKEN) == 200
