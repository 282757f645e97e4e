"""The backfill as a user runs it, beside its floor, in one run (PostgreSQL).

Three processes, as an operator starts them: ``dropsync sandbox shopify --orders N`` (the shop: about
60 % of its orders carry an ``aliexpress_order_id``), then

1. the floor: ``python -m bench.bulk_floor`` — the same bulk export, downloaded and parsed by a bare
   script with no database;
2. ``dropsync sync backfill`` — the real command, with the production wiring (supplier linking,
   cancellation hooks), against a fresh migrated database.

Printed side by side: wall time, peak RSS (the process's own, from wait4), orders/s, the ratio to the
floor, what the ledger holds afterwards, and the load average before and after (the machine is shared).

Usage: python -m bench.backfill_e2e [--orders 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench.common import DROPSYNC, ROOT, bench_database, free_port, machine_speed, start, wait_for_port

DOMAIN, TOKEN = "e2e.myshopify.com", "shpat_e2e"


def _machine_cpu() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine so far, from /proc/stat (every core summed)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, idle / ticks


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _ExportWatch:
    """The sandbox's CPU, sampled every half second while a run goes: what it used, and when it last
    worked (its export's end: a backfill waits for the export, then applies what was exported last)."""

    SAMPLE = 0.5  # seconds
    BUSY = 0.25  # of a core over a sample: the sandbox is exporting

    def __init__(self, pid: int) -> None:
        self._pid, self._stop = pid, threading.Event()
        self._started = time.monotonic()
        self._first = self._last = _process_cpu(pid)
        self.busy_until = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.SAMPLE):
            used = _process_cpu(self._pid)
            if used - self._last > self.BUSY * self.SAMPLE:
                self.busy_until = time.monotonic() - self._started
            self._last = used

    def stop(self) -> float:
        """The sandbox's CPU seconds over the run."""
        self._stop.set()
        self._thread.join()
        return _process_cpu(self._pid) - self._first


def _run_measured(argv: list[str], env: dict[str, str], sandbox_pid: int) -> tuple[float, float, str, dict[str, float]]:
    """(wall seconds, peak RSS MiB of that process alone (wait4), stdout, CPU seconds); raises on failure.

    CPU: the process's own (user + system, from wait4), the sandbox's, and the whole machine's busy and
    idle time over the same wall time (PostgreSQL's backends are in the machine's, not the process's).
    """
    busy_before, idle_before = _machine_cpu()
    started = time.monotonic()
    watch = _ExportWatch(sandbox_pid)
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"dropsync-e2e-{os.getpid()}.out"
    with out_path.open("wb") as out, open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=devnull)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    busy_after, idle_after = _machine_cpu()
    cpu = {
        "process": usage.ru_utime + usage.ru_stime,
        "sandbox": watch.stop(),
        "export_until": watch.busy_until,
        "machine": busy_after - busy_before,
        "idle": idle_after - idle_before,
    }
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text()
    out_path.unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} exited {proc.returncode}: {text[-2000:]}")
    return wall, usage.ru_maxrss / 1024, text, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    args = parser.parse_args()
    load_before = os.getloadavg()
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    shop_env = {"SHOPIFY_SHOP_DOMAIN": DOMAIN, "SHOPIFY_ACCESS_TOKEN": TOKEN, "SHOPIFY_CLIENT_SECRET": "s"}
    sandbox = start([DROPSYNC, "sandbox", "shopify", "--port", str(port), "--orders", str(args.orders)], shop_env)
    try:
        wait_for_port(port, timeout=120)
        env = {**os.environ, "PYTHONPATH": str(ROOT), **shop_env}
        floor_wall, floor_rss, floor_out, floor_cpu = _run_measured(
            [sys.executable, "-m", "bench.bulk_floor", "--api-url", api_url, "--token", TOKEN], env, sandbox.pid
        )
        floor = json.loads(floor_out.strip().splitlines()[-1])
        with bench_database("dropsync_bench_e2e") as url:
            env = {**env, "DATABASE_URL": url, "SHOPIFY_API_URL": api_url, "DROPSYNC_LOG_LEVEL": "WARNING"}
            wall, rss, _, cpu = _run_measured([DROPSYNC, "sync", "backfill"], env, sandbox.pid)
            from models import LineItem, Order, SupplierOrder, SupplierOrderItem

            engine = create_engine(url)
            with engine.connect() as conn:
                counts = {
                    model.__tablename__: conn.scalar(select(func.count()).select_from(model))
                    for model in (Order, LineItem, SupplierOrder, SupplierOrderItem)
                }
            engine.dispose()
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    load_after = os.getloadavg()
    orders = counts["orders"] or 0
    print(f"backfill end to end, {args.orders:,} sandbox orders, PostgreSQL")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} ({os.cpu_count()} cores)")  # fmt: skip
    print(machine_speed())
    print(f"{'':34} {'wall s':>8} {'orders/s':>9} {'peak RSS MB':>12}")
    print(f"{'floor (bulk_floor: export+parse)':34} {floor_wall:8.1f} {args.orders / floor_wall:9,.0f} "
          f"{floor_rss:12.0f}   export {floor['export_s']:.1f} s, {floor['rows']:,} rows, "
          f"{floor['bytes'] / 1e6:.0f} MB")  # fmt: skip
    print(f"{'dropsync sync backfill':34} {wall:8.1f} {orders / wall:9,.0f} {rss:12.0f}")
    print(f"ratio to the floor: {wall / floor_wall:.2f}x")
    cores = os.cpu_count() or 1
    for name, used, took in (("floor", floor_cpu, floor_wall), ("backfill", cpu, wall)):
        print(f"CPU during the {name}: its process {used['process']:.1f} s, the sandbox {used['sandbox']:.1f} s; "
              f"the machine busy {used['machine']:.1f} s ({used['machine'] / (cores * took):.0%} of its "
              f"{cores} cores), idle {used['idle']:.1f} s (PostgreSQL and anything else: "
              f"{used['machine'] - used['process'] - used['sandbox']:.1f} s)")  # fmt: skip
    print(f"the sandbox exported until {cpu['export_until']:.1f} s into the backfill's {wall:.1f} s: "
          f"{wall - cpu['export_until']:.1f} s were left to apply after the export")  # fmt: skip
    linked, items = counts["supplier_orders"] or 0, counts["supplier_order_items"] or 0
    print(
        f"ledger: {orders:,} orders, {counts['line_items']:,} line items, {linked:,} supplier orders "
        f"({linked / max(orders, 1):.0%} of orders linked), {items:,} supplier items"
    )


if __name__ == "__main__":
    main()
