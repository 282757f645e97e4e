"""A real ``dropsync web``: clients that trickle their request are cut with a 408 within the read timeout,
and clients that hang up mid-request are logged as such (one line, no traceback) and never counted as 500."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from integrations.shopify.webhooks import sign
from tests.cli.support import DROPSYNC
from tests.web.support import WebProcess, running_web, web_env

READ_TIMEOUT = 2.0
MARGIN = 3.0  # loaded CI machines: the deadline fires on the event loop's next turn


async def _trickle(port: int, head: bytes, drip: bytes) -> tuple[float, bytes]:
    """Send ``head`` then one byte of ``drip`` a second; returns (seconds until the server closed, reply)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)

    async def drip_slowly() -> None:
        for byte in drip:
            await asyncio.sleep(1.0)
            writer.write(bytes([byte]))
            await writer.drain()

    dripping = asyncio.ensure_future(drip_slowly())
    reply = b""
    try:
        async with asyncio.timeout(READ_TIMEOUT + 30):
            while chunk := await reader.read(4096):  # until the server closes the connection
                reply += chunk
    except ConnectionResetError:
        pass  # closed while our drip was in flight: the kernel answers unread bytes with a reset
    finally:
        dripping.cancel()
        writer.close()
    return time.monotonic() - started, reply


async def _slow_clients(port: int, bodies: int, heads: int) -> list[tuple[float, bytes]]:
    body_head = (
        b"POST /webhooks/shopify HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 600\r\n\r\n"
    )
    header_drip = b"X-Shopify-Topic: orders/create\r\n" * 20
    tasks = [_trickle(port, body_head, b"{" + b" " * 599) for _ in range(bodies)]
    tasks += [_trickle(port, b"POST /webhooks/shopify HTTP/1.1\r\n", header_drip) for _ in range(heads)]
    return list(await asyncio.gather(*tasks))


def test_slow_bodies_and_slow_headers_are_cut_with_408(database_url: str, tmp_path: Path) -> None:
    env = web_env(database_url, tmp_path, DROPSYNC_WEB_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT))
    with running_web(env, tmp_path) as web:
        results = asyncio.run(_slow_clients(web.port, bodies=100, heads=50))
        assert httpx.get(f"{web.url}/healthz", timeout=5).status_code == 200  # still serving
        timed_out = _requests(web, route="/webhooks/shopify", status="408")
    slowest = max(seconds for seconds, _ in results)
    answered = sum(reply.startswith(b"HTTP/1.1 408") for _, reply in results)
    print(f"{len(results)} slow clients, slowest cut after {slowest:.2f} s, {answered} read their 408")
    assert slowest < READ_TIMEOUT + MARGIN, f"a slow client was held {slowest:.1f} s"
    # Every client that got an answer got a 408 (a reset can race the answer to a client still dripping).
    assert {reply[:12] for _, reply in results} <= {b"HTTP/1.1 408", b""}
    assert answered >= 0.9 * len(results)
    assert timed_out == 100  # the body timeouts reach the app and are counted; header ones never became requests


def test_clients_hanging_up_mid_body_are_logged_once_and_never_counted_as_500(
    database_url: str, tmp_path: Path
) -> None:
    async def hang_up(port: int) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b'POST /webhooks/shopify HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n{"id": 1')
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()

    async def hang_up_all(port: int) -> None:
        await asyncio.gather(*(hang_up(port) for _ in range(30)))

    with running_web(web_env(database_url, tmp_path), tmp_path) as web:
        asyncio.run(hang_up_all(web.port))
        deadline = time.monotonic() + 15
        while _requests(web, route="/webhooks/shopify", status="499") < 30 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _requests(web, route="/webhooks/shopify", status="499") == 30
        assert _requests(web, route="/webhooks/shopify", status="500") == 0
        events = web.events()
    log = web.log.read_text()
    assert "Traceback" not in log
    assert not [e for e in events if e.get("status") == 500 or e.get("level") == "error"], log[-2000:]
    hang_ups = [e for e in events if e["event"] == "client disconnected before the response"]
    assert len(hang_ups) == 30
    assert {e["level"] for e in hang_ups} == {"info"}


def test_the_configured_shop_is_accepted_by_a_fresh_deploy(tmp_path: Path) -> None:
    """Only `dropsync db upgrade`, then `dropsync web`: the first webhooks of SHOPIFY_SHOP_DOMAIN are stored."""
    import subprocess

    ledger = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    env = web_env(
        ledger, tmp_path, SHOPIFY_SHOP_DOMAIN="fresh-deploy.myshopify.com", SHOPIFY_CLIENT_SECRET="whsec-fresh"
    )
    subprocess.run([DROPSYNC, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    body = json.dumps({"id": 1, "email": "x@example.com"}).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": sign("whsec-fresh", body),
               "X-Shopify-Shop-Domain": "fresh-deploy.myshopify.com",
               "X-Shopify-Webhook-Id": str(uuid.uuid4())}  # fmt: skip
    with running_web(env, tmp_path) as web:
        first = httpx.post(f"{web.url}/webhooks/shopify", content=body, headers=headers, timeout=10)
        forged = httpx.post(f"{web.url}/webhooks/shopify", content=body,
                            headers={**headers, "X-Shopify-Hmac-Sha256": sign("other", body)}, timeout=10)  # fmt: skip
    assert (first.status_code, first.json()) == (200, {"status": "accepted"}), first.text
    assert forged.status_code == 401


def _requests(web: WebProcess, route: str, status: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(web.metrics()):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "dropsync_http_requests_total" and (labels["route"], labels["status"]) == (route, status):
                total += sample.value
    return total
