"""Bulk backfill of N sandbox orders: wall time and peak RSS of the applying process (PostgreSQL).

The Shopify sandbox runs as its own process (``dropsync sandbox shopify --orders N --plan plus``). This
process runs the backfill exactly as ``dropsync sync backfill`` does (``backfill.start_run`` and
``backfill.run``: in parts, each applied while the sandbox exports the next; streamed, applied in
checkpointed batches). Printed: the time until the first part was exported, the time to the end, and this
process's peak RSS (VmHWM), plus RSS sampled while applying to show it stays flat.

Usage: python -m bench.backfill [--orders 100000]
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from sqlalchemy import func, select

from bench.common import bench_database, create_shop, free_port, peak_rss_mb, python, start, wait_for_port
from worker.mirror.collector import few_arenas

DOMAIN, TOKEN = "backfill.myshopify.com", "shpat_backfill"


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    from integrations.shopify.client import ShopifyClient
    from models import LineItem, Order, Shop
    from worker.db import session_scope
    from worker.mirror import backfill

    port = free_port()
    env = {"SHOPIFY_SHOP_DOMAIN": DOMAIN, "SHOPIFY_ACCESS_TOKEN": TOKEN, "SHOPIFY_CLIENT_SECRET": "s"}
    sandbox = start([python(), "-m", "worker.cli.main", "sandbox", "shopify", "--port", str(port), "--orders",
                     str(args.orders), "--plan", "plus"], env)  # fmt: skip
    samples: list[float] = []
    try:
        wait_for_port(port, timeout=60)
        with bench_database():
            shop_id = create_shop(DOMAIN, "s", TOKEN, api_url=f"http://127.0.0.1:{port}")
            client = ShopifyClient(DOMAIN, TOKEN, api_url=f"http://127.0.0.1:{port}", timeout=120)
            rss_before = _rss_mb()
            started = time.monotonic()
            few_arenas()  # as the command does
            with session_scope() as session:
                shop = session.get(Shop, shop_id)
                assert shop is not None
                backfill_id = backfill.start_run(session, shop, client, since=None).id
            exported: list[float] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(1.0):
                    samples.append(_rss_mb())

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            applied = backfill.run(
                session_scope, backfill_id, client, on_part=lambda number, _: exported.append(time.monotonic())
            )
            done = time.monotonic()
            stop.set()
            with session_scope() as session:
                orders = session.scalar(select(func.count()).select_from(Order))
                lines = session.scalar(select(func.count()).select_from(LineItem))
            peak = peak_rss_mb(os.getpid())
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    print(f"{applied} orders applied ({orders} in the ledger, {lines} line items)")
    first = exported[0] if exported else done
    print(f"first part exported:   {first - started:6.1f} s  ({len(exported)} parts)")
    print(f"then, to the end:      {done - first:6.1f} s  ({applied / (done - first):,.0f} orders/s)")
    print(f"total wall time:       {done - started:6.1f} s")
    low, high = min(samples, default=0), max(samples, default=0)
    print(f"RSS before {rss_before:.0f} MB; peak (VmHWM) {peak:.0f} MB; while applying: "
          f"min {low:.0f} / max {high:.0f} MB over {len(samples)} samples")  # fmt: skip
    if samples:  # flat or growing? the RSS at each tenth of the applying phase
        tenths = [samples[min(len(samples) - 1, len(samples) * k // 10)] for k in range(1, 11)]
        print("RSS at each tenth of the apply (MB): " + " ".join(f"{mb:.0f}" for mb in tenths))


if __name__ == "__main__":
    main()
