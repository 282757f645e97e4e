"""Reconciliation under the Standard plan's throttle: cost points used per second vs the restore rate.

The Shopify sandbox runs as its own process (``dropsync sandbox shopify --plan standard``, 100 points/s
restore, 2,000-point bucket). The bucket is drained first so the figure is the steady state, not the
initial burst; then the sweep runs for ``--seconds`` and the actual cost Shopify charged (summed from
``extensions.cost.actualQueryCost`` of every response) is divided by the elapsed time.

Usage: python -m bench.reconcile_throttle [--seconds 60] [--orders 3000]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import time

import httpx

from bench.common import bench_database, create_shop, free_port, python, start, wait_for_port

DOMAIN, TOKEN = "throttle.myshopify.com", "shpat_throttle"


class Enough(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--orders", type=int, default=3000)
    args = parser.parse_args()
    from integrations.shopify.client import ShopifyClient
    from worker.db import session_scope
    from worker.mirror import reconcile
    from worker.observability.metrics import SHOPIFY_COST_POINTS

    port = free_port()
    env = {"SHOPIFY_SHOP_DOMAIN": DOMAIN, "SHOPIFY_ACCESS_TOKEN": TOKEN, "SHOPIFY_CLIENT_SECRET": "s"}
    sandbox = start([python(), "-m", "worker.cli.main", "sandbox", "shopify", "--port", str(port), "--orders",
                     str(args.orders), "--plan", "standard"], env)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    pages: list[int] = []
    try:
        wait_for_port(port)
        with bench_database():
            shop_id = create_shop(DOMAIN, "s", TOKEN, api_url=base)
            client = ShopifyClient(DOMAIN, TOKEN, api_url=base)
            charged_before = SHOPIFY_COST_POINTS._value.get()  # actual cost of every response, summed
            httpx.post(f"{base}/_sandbox/throttle/drain").raise_for_status()
            started = time.monotonic()

            def stop(result: reconcile.ReconcileResult) -> None:
                pages.append(result.orders_seen)
                if time.monotonic() - started >= args.seconds:
                    raise Enough

            with contextlib.suppress(Enough):
                reconcile.reconcile_shop(session_scope, shop_id, client, dt.timedelta(0), on_page=stop)
            elapsed = time.monotonic() - started
            used = SHOPIFY_COST_POINTS._value.get() - charged_before
            restore = client.throttle_status.restore_rate if client.throttle_status else float("nan")
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    print(f"{len(pages)} pages, {pages[-1] if pages else 0} orders in {elapsed:.1f} s; {used:.0f} points charged")
    print(f"achieved {used / elapsed:.1f} points/s against a restore rate of {restore:.0f}/s "
          f"= {used / elapsed / restore:.2f} of the restore rate")  # fmt: skip


if __name__ == "__main__":
    main()
