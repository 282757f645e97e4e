"""Order parsing alone: µs per order for REST bodies and GraphQL ``OrderById`` nodes of the same orders.

The parse (``integrations.shopify.order``) runs for every order the mirror applies (webhook drain,
reconciliation, a 100k-order backfill); this isolates it from the database. The sandbox (in-process,
seed 9) serves the orders; each shape is parsed ``--rounds`` times and the best round is printed (the
least disturbed by other processes on a shared machine), with the median and the load average.

Usage: python -m bench.order_parse [--orders 200] [--rounds 40]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson


def _orders(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from integrations.shopify.client import ShopifyClient
    from sandboxes.shopify import SandboxConfig, ShopifySandbox
    from sandboxes.shopify.payloads import order_json

    config = SandboxConfig(
        seed=9, orders=count, plan="plus", shop_domain="parse.myshopify.com", access_token="shpat_parse",
        client_secret="s", api_version="2026-10",
    )  # fmt: skip
    sandbox = ShopifySandbox(config)
    with sandbox.serve(), ShopifyClient(config.shop_domain, config.access_token, api_url=sandbox.base_url) as client:
        found = [sandbox.state.get(index) for index in range(count)]
        rest = [orjson.loads(orjson.dumps(order_json(sandbox.state, order))) for order in found if order is not None]
        nodes = [client.execute("OrderById", {"id": body["admin_graphql_api_id"]})["order"] for body in rest]
    sandbox.close()
    return rest, nodes


def _time(parse: Callable[[dict[str, Any]], Any], items: list[dict[str, Any]], rounds: int) -> tuple[float, float]:
    per_order = []
    for _ in range(rounds):
        started = time.perf_counter()
        for item in items:
            parse(item)
        per_order.append((time.perf_counter() - started) / len(items) * 1e6)
    return min(per_order), statistics.median(per_order)


def main() -> None:
    from integrations.shopify.order import parse_graphql_order, parse_rest_order

    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    rest, nodes = _orders(args.orders)
    gc.disable()  # the drain and the backfill widen the collector's window; measure the parse, not the GC
    for label, parse, items in (("REST", parse_rest_order, rest), ("GraphQL", parse_graphql_order, nodes)):
        best, median = _time(parse, items, args.rounds)
        print(f"{label:8} {best:6.1f} µs/order best, {median:6.1f} median (load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
