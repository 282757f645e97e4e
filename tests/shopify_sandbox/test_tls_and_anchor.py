"""HTTPS with a self-signed certificate (URLs follow the address the client used) and anchored seeds."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import shopify

from sandboxes.shopify import SandboxConfig, ShopifySandbox
from sandboxes.shopify.cli import DEFAULT_ANCHOR, Credentials, build_config, parse_anchor
from sandboxes.shopify.config import FaultConfig
from sandboxes.shopify.tls import self_signed

ROOT = Path(__file__).resolve().parents[2]
RUN = (
    'mutation { bulkOperationRunQuery(query: "{ orders { edges { node { id name } } } }") { userErrors { message } } }'
)
STATUS = "{ currentBulkOperation { status url } }"


@pytest.fixture
def https_sandbox(tmp_path: Path) -> Iterator[tuple[ShopifySandbox, Path]]:
    cert, key = self_signed(tmp_path, "sandbox.myshopify.com")
    sandbox = ShopifySandbox(
        SandboxConfig(seed=3, orders=12, access_token="shpat_tls", tls_certfile=str(cert), tls_keyfile=str(key))
    )
    with sandbox.serve():
        yield sandbox, cert
    sandbox.close()


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _post(url: str, query: str, cert: Path) -> httpx.Response:
    headers = {"X-Shopify-Access-Token": "shpat_tls"}
    return httpx.post(url, json={"query": query}, headers=headers, verify=_trusting(cert))


def test_https_and_the_bulk_url_follows_the_request_address(https_sandbox: tuple[ShopifySandbox, Path]) -> None:
    sandbox, cert = https_sandbox
    assert sandbox.base_url is not None
    assert sandbox.base_url.startswith("https://127.0.0.1:")
    port = sandbox.base_url.rsplit(":", 1)[1]
    assert _post(sandbox.graphql_url(), RUN, cert).json()["data"]["bulkOperationRunQuery"]["userErrors"] == []
    for _ in range(100):
        current = _post(sandbox.graphql_url(), STATUS, cert).json()["data"]["currentBulkOperation"]
        if current["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    assert current["url"].startswith(f"https://127.0.0.1:{port}/_sandbox/bulk/")
    via_localhost = f"https://localhost:{port}/admin/api/2026-10/graphql.json"
    url = _post(via_localhost, STATUS, cert).json()["data"]["currentBulkOperation"]["url"]
    assert url.startswith(f"https://localhost:{port}/_sandbox/bulk/")
    assert len(httpx.get(url, verify=_trusting(cert)).text.splitlines()) == 12
    with pytest.raises(httpx.ConnectError):  # the certificate is not trusted unless the client says so
        httpx.get(f"{sandbox.base_url}/admin/api/2026-10/shop.json")


def test_shopifyapi_over_https(https_sandbox: tuple[ShopifySandbox, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox, cert = https_sandbox
    assert sandbox.base_url is not None
    # The one change a client needs: trust the sandbox's certificate (here for urllib, which ShopifyAPI uses).
    monkeypatch.setattr(ssl, "_create_default_https_context", lambda: _trusting(cert))
    shopify.Session.setup(protocol="https", myshopify_domain="0.0.1", port=sandbox.base_url.rsplit(":", 1)[1])
    shopify.ShopifyResource.activate_session(shopify.Session("127.0.0.1", "2026-10", "shpat_tls"))
    try:
        assert shopify.Shop.current().myshopify_domain == sandbox.config.shop_domain
        page = shopify.Order.find(status="any", limit=5)
        assert page.next_page_url is not None
        assert page.next_page_url.startswith("https://127.0.0.1:")
        assert len(page) + len(page.next_page()) + len(page.next_page().next_page()) == 12
    finally:
        shopify.ShopifyResource.clear_session()
        shopify.Session.setup(protocol="https", myshopify_domain="myshopify.com", port=None)


def _orders_bytes(config: SandboxConfig) -> bytes:
    sandbox = ShopifySandbox(config)
    with sandbox.serve() as base_url:
        response = httpx.get(
            f"{base_url}/admin/api/2026-10/orders.json",
            params={"status": "any", "limit": 250},
            headers={"X-Shopify-Access-Token": config.access_token},
        )
    sandbox.close()
    return response.content


def test_the_default_anchor_gives_byte_identical_orders_across_restarts() -> None:
    credentials = Credentials("anchor.myshopify.com", "shpat_anchor", "secret", "2026-10")

    def config() -> SandboxConfig:
        return build_config(credentials, 0, 7, 40, "plus", FaultConfig(), parse_anchor(DEFAULT_ANCHOR))

    first = _orders_bytes(config())
    time.sleep(0.05)
    assert _orders_bytes(config()) == first
    assert b'"updated_at":"2026-09-30T' in first  # the newest order, updated within a day before the anchor
    now = build_config(credentials, 0, 7, 40, "plus", FaultConfig(), parse_anchor("now"))
    assert now.clock_start is None  # anchored at start time, as in-process sandboxes (tests, demo) are


def test_cli_refuses_bad_anchor_and_half_tls_in_one_line() -> None:
    for flags, message in (
        (["--anchor-date", "soon"], "--anchor-date wants YYYY-MM-DD, an ISO date-time or 'now' (got 'soon')"),
        (["--tls-cert", "/nonexistent.pem"], "--tls-cert and --tls-key go together"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "worker.cli.main", "sandbox", "shopify", *flags],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [f"dropsync: sandbox shopify: {message}"]
