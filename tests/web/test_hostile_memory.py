"""A hostile client cannot grow the web process: made-up methods, paths and shop domains leave its memory
and its /metrics flat (labels from a fixed set, the shop directory bounded by the ledger)."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from tests.web.support import running_web, web_env


def _hostile_round(client: httpx.Client, count: int) -> None:
    for i in range(count):
        method = "X" + secrets.token_hex(6).upper()
        path = "/" + secrets.token_hex(8)
        client.request(method, path if i % 2 else "/healthz")
        long_domain = secrets.token_hex(4096) + ".myshopify.com"  # 8 KB, unique
        short_domain = secrets.token_hex(8) + ".myshopify.com"  # plausible, unique: must not cost a query each
        headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": secrets.token_hex(8),
                   "X-Shopify-Hmac-Sha256": "AAAA",
                   "X-Shopify-Shop-Domain": long_domain if i % 2 else short_domain}  # fmt: skip
        answer = client.post("/webhooks/shopify", content=b"{}", headers=headers)
        assert answer.status_code == 404, answer.text


@pytest.mark.slow
def test_random_methods_and_unique_shop_domains_leave_memory_and_metrics_flat(
    database_url: str, tmp_path: Path
) -> None:
    with running_web(web_env(database_url, tmp_path), tmp_path) as web, httpx.Client(base_url=web.url) as client:
        _hostile_round(client, 400)  # warm-up: allocator arenas, first-time imports, the counters. series
        web.metrics()  # (the scrape has its own series)
        rss_before, metrics_before = web.rss_kb(), web.metrics()
        _hostile_round(client, 3000)
        rss_after, metrics_after = web.rss_kb(), web.metrics()
    # Before: every method was a new series (4,000 grew /metrics from 21 KB to 7.4 MB) and every domain
    # a cache entry (+26 MB). Now no series is added; counters gaining digits add a few bytes.
    assert _series(metrics_after) - _series(metrics_before) == set()
    assert len(metrics_after) - len(metrics_before) < 4096, (len(metrics_before), len(metrics_after))
    assert rss_after - rss_before < 6 * 1024, f"RSS {rss_before} → {rss_after} KB"
    print(f"RSS {rss_before} → {rss_after} KB; /metrics {len(metrics_before)} → {len(metrics_after)} bytes")


def _series(text: str) -> set[str]:
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}
