"""Webhook accept: throughput and latency of POST /webhooks/shopify next to a bare endpoint, same stack.

One uvicorn process serves the production app (PostgreSQL inbox, Redis broker) plus ``/bare``, a route
that reads the body and answers 200 through the same middleware. wrk (Debian package ``wrk``) sends
correctly signed deliveries, each with its own webhook id, over loopback. Then a run at about half the
webhook endpoint's maximum rate gives p50/p99 at half load.

Usage: python -m bench.webhook_accept [--seconds 10] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from bench.common import REDIS_URL, bench_database, create_shop, free_port, parse_wrk, python, start, wait_for_port

DOMAIN, SECRET = "bench.myshopify.com", "bench-webhook-secret"


def sample_body() -> bytes:
    from sandboxes.shopify import SandboxConfig
    from sandboxes.shopify.payloads import order_json
    from sandboxes.shopify.state import ShopState

    state = ShopState(SandboxConfig(seed=5, orders=10, shop_domain=DOMAIN))
    order = state.get(3)
    assert order is not None
    return json.dumps(order_json(state, order)).encode()


def wrk(url: str, seconds: int, connections: int, env: dict[str, str], delay_ms: float = 0) -> dict[str, float]:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", "bench/wrk_webhook.lua", url]
    out = subprocess.run(argv, env={**os.environ, **env, "DELAY_MS": str(delay_ms)}, capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parent.parent).stdout  # fmt: skip
    return parse_wrk(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="bare/webhook runs, interleaved; medians printed")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    from integrations.shopify.webhooks import sign

    body = sample_body()
    body_file = Path(tempfile.mkdtemp()) / "body.json"
    body_file.write_bytes(body)
    with bench_database() as url:
        create_shop(DOMAIN, SECRET)
        port = free_port()
        env = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "DROPSYNC_ENV": "production",
               "DROPSYNC_REDIS_KEY_PREFIX": "dropsync-bench:"}  # fmt: skip
        server = start([python(), "-m", "uvicorn", "bench.webhook_app:app", "--host", "127.0.0.1", "--port",
                        str(port), "--log-level", "warning", "--no-access-log"], env)  # fmt: skip
        try:
            wait_for_port(port)
            base = f"http://127.0.0.1:{port}"
            lua = {"BODY_FILE": str(body_file), "HMAC": sign(SECRET, body), "SHOP": DOMAIN}
            wrk(f"{base}/bare", 3, args.connections, {**lua, "RUN_ID": "warm1"})
            wrk(f"{base}/webhooks/shopify", 3, args.connections, {**lua, "RUN_ID": "warm2"})
            bares, hooks = [], []
            for round_ in range(args.rounds):  # interleaved: a neighbour's burst hits both endpoints alike
                bares.append(wrk(f"{base}/bare", args.seconds, args.connections, {**lua, "RUN_ID": f"bare{round_}"}))
                hooks.append(wrk(f"{base}/webhooks/shopify", args.seconds, args.connections,
                                 {**lua, "RUN_ID": f"full{round_}"}))  # fmt: skip
            bare, hook = _median(bares), _median(hooks)
            half_connections = 8
            delay = max(0.0, 1000 * 2 * half_connections / hook["rps"] - hook["p50"] / 4)
            half = wrk(f"{base}/webhooks/shopify", args.seconds, half_connections, {**lua, "RUN_ID": "half"}, delay)
        finally:
            server.terminate()
            server.wait(10)
        stored = _stored()
    print(f"body: {len(body)} bytes; {args.connections} connections, {args.seconds} s per run, 1 uvicorn process; "
          f"median of {args.rounds} interleaved rounds")  # fmt: skip
    pairs = zip(bares, hooks, strict=True)
    print("rounds (bare/webhook req/s): " + ", ".join(f"{b['rps']:.0f}/{h['rps']:.0f}" for b, h in pairs))
    print(f"bare endpoint:     {bare['rps']:8.0f} req/s  p50 {bare['p50']:6.2f} ms  p99 {bare['p99']:6.2f} ms")
    print(f"webhook endpoint:  {hook['rps']:8.0f} req/s  p50 {hook['p50']:6.2f} ms  p99 {hook['p99']:6.2f} ms"
          f"  non-2xx {hook['non_2xx']:.0f}")  # fmt: skip
    print(f"ratio webhook/bare: {hook['rps'] / bare['rps']:.2f}")
    print(f"half load:         {half['rps']:8.0f} req/s  p50 {half['p50']:6.2f} ms  p99 {half['p99']:6.2f} ms"
          f"  ({half_connections} connections, {delay:.1f} ms pause)")  # fmt: skip
    print(f"deliveries stored in the inbox: {stored}")


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median throughput (its own latencies with it, not a mix of runs)."""
    return sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]


def _stored() -> int:
    from models import WebhookDelivery
    from worker.db import session_scope

    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


if __name__ == "__main__":
    main()
