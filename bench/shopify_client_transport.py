"""Why dropsync carries Shopify HTTP with httpx instead of ``shopify.GraphQL().execute``: time N requests.

Three ways of sending the same GraphQL request to the same server, sequentially, in one process:

- ``shopify.GraphQL().execute`` (ShopifyAPI 12.7: urllib, a new TCP connection per request, no timeout,
  process-global session);
- ``ShopifyClient.execute`` (this project: httpx keep-alive pool, timeout, pacing, error typing);
- a bare ``httpx.Client.post`` (the transport alone, to show what the client's own work costs).

Targets: ``--target sandbox`` (default) serves the Shopify sandbox in-process (with a bucket too large
to pace the run) and sends a one-order query; ``--target fixed`` serves a minimal
loopback HTTP/1.1 server answering a fixed GraphQL JSON body (the transport cost without any server work);
``--target fixed-tls`` is the same over TLS (self-signed, trusted by both clients), as Shopify is HTTPS-only:
what a new connection per request really costs.

    .venv/bin/python bench/shopify_client_transport.py --requests 2000 [--target fixed]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import ssl
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import shopify

from integrations.shopify.client import ShopifyClient
from worker.observability.metrics import SHOPIFY_COST_POINTS, SHOPIFY_REQUESTS

TOKEN = "shpat_bench"
SHOP = "bench.myshopify.com"
VERSION = "2026-10"
QUERY = "query One($first: Int!) { orders(first: $first) { nodes { id name updatedAt } } }"
ONE_ORDER = {"id": "gid://shopify/Order/1", "name": "#1001", "updatedAt": "2026-11-01T00:00:00Z"}
THROTTLE = {"maximumAvailable": 20000.0, "currentlyAvailable": 19997, "restoreRate": 10000.0}
FIXED_BODY = json.dumps({
    "data": {"orders": {"nodes": [ONE_ORDER]}},
    "extensions": {"cost": {"requestedQueryCost": 3, "actualQueryCost": 3, "throttleStatus": THROTTLE}},
}).encode()  # fmt: skip


class FixedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive when the client wants it
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(FIXED_BODY)))
        self.end_headers()
        self.wfile.write(FIXED_BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def fixed_server(tls: bool = False) -> Iterator[tuple[str, str, str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FixedHandler)
    scheme = "http"
    with tempfile.TemporaryDirectory() as tmp:
        if tls:
            scheme = "https"
            server.socket = _tls_context(Path(tmp)).wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"{scheme}://127.0.0.1:{server.server_address[1]}", SHOP, TOKEN
        finally:
            server.shutdown()
            server.server_close()


CA_FILE: Path | None = None


def _tls_context(tmp: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1; both clients are told to trust it (and nothing else)."""
    global CA_FILE
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    CA_FILE = cert
    trusted = ssl.create_default_context(cafile=str(cert))
    # shopify.GraphQL calls urlopen() without a context: the installed opener is the only way in.
    urllib.request.install_opener(urllib.request.build_opener(urllib.request.HTTPSHandler(context=trusted)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context


@contextlib.contextmanager
def tcp_sockets_with_nodelay() -> Iterator[None]:
    """Create stream sockets with proto IPPROTO_TCP while the sandbox binds its listener.

    The sandbox binds ``socket.socket(AF_INET, SOCK_STREAM)`` (proto 0); asyncio only sets TCP_NODELAY on
    accepted connections whose proto is IPPROTO_TCP, so every keep-alive response (headers and body
    written separately) stalls ~40 ms on the client's delayed ACK. Real Shopify has no such stall; this
    patch (bench only, ``--sandbox-as-is`` to skip it) keeps the measurement about the clients.
    """
    import socket as socket_module

    original = socket_module.socket

    def tcp_socket(
        family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None
    ) -> socket_module.socket:
        if type == socket_module.SOCK_STREAM and proto in (-1, 0) and fileno is None:
            proto = socket_module.IPPROTO_TCP
        return original(family, type, proto, fileno)

    socket_module.socket = tcp_socket  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        socket_module.socket = original  # type: ignore[misc]


@contextlib.contextmanager
def sandbox_server(as_is: bool = False) -> Iterator[tuple[str, str, str]]:
    from sandboxes.shopify import SandboxConfig, ShopifySandbox

    # A bucket far larger than the run needs: this measures transport, not throttling.
    config = SandboxConfig(seed=1, orders=100, plan="enterprise", shop_domain=SHOP, access_token=TOKEN,
                           client_secret="bench-secret", api_version=VERSION, restore_rate=1e6,
                           bucket_size=1e7)  # fmt: skip
    sandbox = ShopifySandbox(config)
    serving = sandbox.serve()
    with contextlib.nullcontext() if as_is else tcp_sockets_with_nodelay():
        base_url = serving.__enter__()
    try:
        yield base_url, SHOP, TOKEN
    finally:
        serving.__exit__(None, None, None)
        sandbox.close()


def via_shopify_package(base_url: str, shop: str, token: str) -> Callable[[], object]:
    # The package builds https://{shop}.myshopify.com from a Session; point its global site at the target.
    session = shopify.Session(shop, VERSION, token)
    shopify.ShopifyResource.activate_session(session)
    shopify.ShopifyResource.site = session.api_version.api_path(base_url)
    graphql = shopify.GraphQL()
    return lambda: json.loads(graphql.execute(QUERY, {"first": 1}))


def via_client(base_url: str, shop: str, token: str) -> Callable[[], object]:
    transport = httpx.HTTPTransport(verify=ssl.create_default_context(cafile=str(CA_FILE))) if CA_FILE else None
    client = ShopifyClient(shop, token, api_version=VERSION, api_url=base_url, transport=transport)
    return lambda: client.execute(QUERY, {"first": 1})


def via_bare_httpx(base_url: str, shop: str, token: str) -> Callable[[], object]:
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(CA_FILE)) if CA_FILE else True
    http = httpx.Client(headers={"X-Shopify-Access-Token": token}, verify=verify)
    url = f"{base_url}/admin/api/{VERSION}/graphql.json"
    return lambda: http.post(url, json={"query": QUERY, "variables": {"first": 1}}).json()


def measure(senders: dict[str, Callable[[], object]], requests: int, rounds: int) -> None:
    """Interleave the clients in ``rounds`` rounds (the machine is shared: load drifts); print medians."""
    for send in senders.values():
        for _ in range(min(50, requests)):
            send()  # warm-up: connection set-up, caches
    rates: dict[str, list[float]] = {name: [] for name in senders}
    latencies: dict[str, list[float]] = {name: [] for name in senders}
    per_round = max(1, requests // rounds)
    for _ in range(rounds):
        for name, send in senders.items():
            started = time.perf_counter()
            for _ in range(per_round):
                t0 = time.perf_counter()
                send()
                latencies[name].append(time.perf_counter() - t0)
            rates[name].append(per_round / (time.perf_counter() - started))
    for name in senders:
        samples = sorted(latencies[name])
        p50 = statistics.median(samples) * 1000
        p99 = samples[int(len(samples) * 0.99) - 1] * 1000
        print(
            f"{name:<28} {statistics.median(rates[name]):>9.0f} req/s (median of {rounds} rounds)   "
            f"p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   ({per_round * rounds} requests)"
        )


def pacing(seconds: float, as_is: bool, threads: int = 4, page: int = 2) -> None:
    """Standard plan, bucket drained: threads read OrdersPage pages for ``seconds``; report the fraction of
    the restore rate achieved (actual cost points/s) and how often Shopify said THROTTLED."""
    from sandboxes.shopify import SandboxConfig, ShopifySandbox

    config = SandboxConfig(seed=1, orders=5000, plan="standard", shop_domain=SHOP, access_token=TOKEN,
                           client_secret="bench-secret", api_version=VERSION)  # fmt: skip
    sandbox = ShopifySandbox(config)
    serving = sandbox.serve()
    with contextlib.nullcontext() if as_is else tcp_sockets_with_nodelay():
        base_url = serving.__enter__()
    client = ShopifyClient(SHOP, TOKEN, api_version=VERSION, api_url=base_url)
    try:
        client.execute("OrdersPage", {"first": 1})  # seeds the bucket model
        sandbox.control.drain_bucket()
        throttled_before = SHOPIFY_REQUESTS.labels(outcome="throttled")._value.get()
        points_before = SHOPIFY_COST_POINTS._value.get()
        started = time.monotonic()
        cursors: list[str | None] = [None] * threads

        def read(slot: int) -> None:
            while time.monotonic() - started < seconds:
                page_data = client.execute("OrdersPage", {"first": page, "after": cursors[slot]})["orders"]
                cursors[slot] = page_data["pageInfo"]["endCursor"] if page_data["pageInfo"]["hasNextPage"] else None

        workers = [threading.Thread(target=read, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - started
        points = SHOPIFY_COST_POINTS._value.get() - points_before
        throttled = SHOPIFY_REQUESTS.labels(outcome="throttled")._value.get() - throttled_before
        rate = config.effective_restore_rate
        print(
            f"pacing: Standard plan (restore {rate:.0f}/s), bucket drained, {threads} threads, OrdersPage first={page}"
        )
        print(f"  {points:.0f} actual points in {elapsed:.1f} s = {points / elapsed:.1f} points/s = "
              f"{points / elapsed / rate:.2f} of the restore rate; THROTTLED answers: {throttled:.0f}")  # fmt: skip
    finally:
        client.close()
        serving.__exit__(None, None, None)
        sandbox.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target", choices=["sandbox", "fixed", "fixed-tls"], default="sandbox")
    parser.add_argument("--sandbox-as-is", action="store_true", help="do not give the sandbox's sockets TCP_NODELAY")
    parser.add_argument("--pacing", type=float, metavar="SECONDS", help="measure pacing on the Standard plan instead")
    args = parser.parse_args()
    if args.pacing:
        pacing(args.pacing, args.sandbox_as_is)
        return
    servers: dict[str, Callable[[], contextlib.AbstractContextManager[tuple[str, str, str]]]] = {
        "sandbox": lambda: sandbox_server(as_is=args.sandbox_as_is),
        "fixed": fixed_server,
        "fixed-tls": lambda: fixed_server(tls=True),
    }
    server = servers[args.target]
    with server() as (base_url, shop, token):
        print(f"target: {args.target} at {base_url}; sequential requests, one thread")
        senders = {
            "shopify.GraphQL().execute": via_shopify_package(base_url, shop, token),
            "ShopifyClient.execute": via_client(base_url, shop, token),
            "bare httpx.Client.post": via_bare_httpx(base_url, shop, token),
        }
        measure(senders, args.requests, args.rounds)


if __name__ == "__main__":
    main()
