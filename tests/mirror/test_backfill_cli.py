"""``dropsync sync backfill`` as an operator runs it: a real sandbox process, the real command, killed
mid-run and resumed (PostgreSQL: parallel appliers, the production wiring); and run while the store's webhooks
for the same orders reach ``dropsync web`` and a worker drains them."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from models import BulkBackfill, Order, Shop, WebhookDelivery
from sandboxes.shopify import ids
from tests.cli.support import DROPSYNC, dropsync
from tests.support.receivers import free_port
from worker.db import session_scope
from worker.mirror import backfill, reconcile
from worker.runtime import ManagedProcess, web_argv, worker_argv

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ORDERS = 12_000  # above SPLIT_AT: a backfill in parts
SHOP = {"SHOPIFY_SHOP_DOMAIN": "parts.myshopify.com", "SHOPIFY_ACCESS_TOKEN": "shpat_parts",
        "SHOPIFY_CLIENT_SECRET": "parts-secret"}  # fmt: skip


@pytest.fixture(params=["standard"])
def shop_env(committed_db: Engine, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """``dropsync sandbox shopify`` as a process, on the plan a test asks for (indirect parametrisation)."""
    if committed_db.dialect.name != "postgresql":
        pytest.skip("the PostgreSQL backfill path")
    port = free_port()
    env = {**os.environ, **SHOP}
    argv = [DROPSYNC, "sandbox", "shopify", "--port", str(port), "--orders", str(ORDERS), "--plan", request.param]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_answering(f"http://127.0.0.1:{port}/_sandbox/", lambda: "the sandbox did not start")
        yield {**SHOP, "SHOPIFY_API_URL": f"http://127.0.0.1:{port}", "DROPSYNC_LOG_LEVEL": "WARNING"}
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_until_answering(url: str, why: Callable[[], str], *, ok_only: bool = False, timeout: float = 60) -> None:
    """Until ``url`` answers (with a 200 when ``ok_only``); ``why()`` is the failure's message on a timeout."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200 or not ok_only:
                return
        assert time.monotonic() < deadline, why()
        time.sleep(0.2)


def _parts(engine: Engine) -> list[BulkBackfill]:
    with Session(engine) as session:
        return list(session.scalars(select(BulkBackfill).order_by(BulkBackfill.id)))


def test_a_backfill_killed_between_parts_is_resumed_to_every_order_once(
    shop_env: dict[str, str], committed_db: Engine
) -> None:
    env = {**os.environ, "COLUMNS": "200", **shop_env}
    proc = subprocess.Popen([DROPSYNC, "sync", "backfill"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while sum(p.status == "completed" for p in _parts(committed_db)) < 2:  # two parts in the ledger
        assert proc.poll() is None, "the backfill ended before it could be killed"
        assert time.monotonic() < deadline, "no part was completed in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    parts = _parts(committed_db)
    assert len(parts) == parts[0].parts == backfill.PARTS
    assert any(p.status != "completed" for p in parts)
    with Session(committed_db) as session:
        before = session.scalar(select(func.count()).select_from(Order))
        shop = session.scalars(select(Shop)).one()
        assert shop.orders_watermark is None  # the run is not complete
    assert 0 < (before or 0) < ORDERS

    resumed = dropsync("sync", "backfill", "--resume", str(parts[0].id), env=shop_env, timeout=180)
    assert resumed.code == 0, resumed.err
    assert f"backfill {parts[0].id}: {backfill.PARTS} parts" in resumed.out
    with Session(committed_db) as session:
        count, distinct = session.execute(select(func.count(), func.count(func.distinct(Order.shopify_gid)))).one()
        assert count == distinct == ORDERS
        shop = session.scalars(select(Shop)).one()
        assert shop.orders_watermark == parts[0].created_at
    assert all(p.status == "completed" for p in _parts(committed_db))
    assert sum(p.orders_applied for p in _parts(committed_db)) >= ORDERS  # a batch in flight may apply twice


def test_a_backfill_whose_export_shopify_fails_says_how_to_resume_and_resumes(
    shop_env: dict[str, str], committed_db: Engine
) -> None:
    """Shopify ends an export FAILED (the sandbox's ``export_failed`` fault, set through its control API as an
    operator's test would): the command stops with one line naming the run and the command that resumes it;
    that command exports the part again and completes the run, every order once."""
    httpx.post(f"{shop_env['SHOPIFY_API_URL']}/_sandbox/faults/next",
               json={"kind": "export_failed", "field": "bulkOperationRunQuery"}).raise_for_status()  # fmt: skip
    failed = dropsync("sync", "backfill", env=shop_env, timeout=120)
    assert failed.code == 1, (failed.out, failed.err)
    assert "Traceback" not in failed.err
    lead = _parts(committed_db)[0]
    assert (lead.status, lead.error) == ("failed", "INTERNAL_SERVER_ERROR")
    line = f"dropsync: backfill {lead.id}: bulk operation failed: INTERNAL_SERVER_ERROR"
    assert line in failed.err, failed.err
    assert f"`dropsync sync backfill --resume {lead.id}` exports the unfinished parts again" in failed.err

    resumed = dropsync("sync", "backfill", "--resume", str(lead.id), env=shop_env, timeout=180)
    assert resumed.code == 0, resumed.err
    with Session(committed_db) as session:
        count, distinct = session.execute(select(func.count(), func.count(func.distinct(Order.shopify_gid)))).one()
    assert count == distinct == ORDERS
    assert all(p.status == "completed" for p in _parts(committed_db))


def _two_edits_in_one_second(api: str, engine: Engine, logs: Callable[[], str]) -> None:
    """The ledger reads an order by GraphQL between two edits of one second (as an export or a reconciliation
    may): the second edit's webhook cannot be told newer, and the worker re-reads the order by itself."""
    with Session(engine) as session:
        shop_id = session.scalars(select(Shop.id)).one()
    gid = f"gid://shopify/Order/{ids.order_id(5)}"
    touch = f"/_sandbox/orders/{ids.order_id(5)}/touch"
    with ShopifyClient(SHOP["SHOPIFY_SHOP_DOMAIN"], SHOP["SHOPIFY_ACCESS_TOKEN"], api_url=api) as client, \
            httpx.Client(base_url=api, timeout=10) as http:  # fmt: skip
        for attempt in range(5):  # a loaded machine may take the read past the second: the setup is tried again
            while dt.datetime.now(dt.UTC).microsecond > 200_000:
                time.sleep(0.01)
            first = http.post(touch, json={"tags": [f"tie-{attempt}a"]}).raise_for_status().json()["updated_at"]
            reconcile.refresh_orders(session_scope, shop_id, client, [gid])
            second = http.post(touch, json={"tags": [f"tie-{attempt}b"]}).raise_for_status().json()["updated_at"]
            if first[:19] == second[:19]:
                break
            time.sleep(1.5)  # past the second edit's own second, so the next first edit is newer than it
    assert first[:19] == second[:19], "both edits in one second, or this proves nothing"
    tag = f"tie-{attempt}b"
    deadline = time.monotonic() + 60
    while _behind(engine, {gid: (dt.datetime.fromisoformat(second), [tag])}):
        assert time.monotonic() < deadline, "the worker did not re-read the order\n" + logs()
        time.sleep(0.3)


def _wait_for_source(engine: Engine, gid: str, source: str, logs: Callable[[], str], timeout: float = 60) -> None:
    """Until the ledger holds ``gid`` in a version read from ``source`` (webhook, backfill, reconcile…)."""
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            found = session.scalar(select(Order.source).where(Order.shopify_gid == gid))
        if found == source:
            return
        assert time.monotonic() < deadline, f"{gid} is from {found!r}, not {source!r}\n" + logs()
        time.sleep(0.2)


def _ledger_settled(engine: Engine) -> bool:
    with Session(engine) as session:
        pending = session.scalar(select(func.count()).where(WebhookDelivery.handled_at.is_(None)))
        return pending == 0


@pytest.mark.parametrize("shop_env", ["plus"], indirect=True)  # the reconciliation at the end reads ~200 orders
def test_webhooks_for_the_same_orders_during_a_backfill_leave_each_order_once_at_its_newest(
    shop_env: dict[str, str], committed_db: Engine, redis_url: str, tmp_path: Path
) -> None:
    """The merchant edits orders and takes new ones while the backfill runs: ``dropsync web`` stores the
    webhooks and a worker (two processes) applies them while the backfill's appliers write the same orders.
    Whoever writes an order first, the other merges into it: every order once, each at its newest version,
    without waiting for a reconciliation (an order whose webhook and exported versions share a second is read
    again by the worker, queued by the backfill's batch)."""
    prefix = f"{os.environ['DROPSYNC_REDIS_KEY_PREFIX']}{tmp_path.name}:"
    env = {**shop_env, "REDIS_URL": redis_url, "DROPSYNC_REDIS_KEY_PREFIX": prefix}
    api = shop_env["SHOPIFY_API_URL"]
    port = free_port()
    web = ManagedProcess("web", web_argv(port), env=env, log_path=tmp_path / "web.log").start()
    worker = ManagedProcess("worker", worker_argv(concurrency=2), env=env, log_path=tmp_path / "worker.log").start()

    def logs() -> str:
        return "".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in tmp_path.glob("*.log"))

    try:
        _wait_until_answering(f"http://127.0.0.1:{port}/healthz", logs, ok_only=True)
        subscribed = dropsync("shopify", "subscribe", "--url", f"http://127.0.0.1:{port}", env=env)
        assert subscribed.code == 0, subscribed.err

        # One edit before the backfill, its webhook applied first: the export then reads that version, of
        # the same second, and writes it over the webhook's; the batch has the order re-read.
        early = ids.order_id(0)
        early_at = httpx.post(f"{api}/_sandbox/orders/{early}/touch", json={"tags": ["early"]}).json()["updated_at"]
        _wait_for_source(committed_db, f"gid://shopify/Order/{early}", "webhook", logs)

        touched: dict[int, tuple[str, str]] = {early: (early_at, "early")}  # numeric id -> (newest updated_at, tag)
        created: list[str] = []
        errors: list[BaseException] = []

        def merchant() -> None:
            rng = random.Random(7)
            try:
                with httpx.Client(base_url=api, timeout=10) as http:
                    for n in range(220):
                        if n % 22 == 21:
                            created.append(http.post("/_sandbox/orders", json={"status": "paid"}).json()["id"])
                            continue
                        numeric = ids.order_id(rng.randrange(1, ORDERS))  # not the early one
                        answer = http.post(f"/_sandbox/orders/{numeric}/touch", json={"tags": [f"edit-{n}"]})
                        touched[numeric] = (answer.raise_for_status().json()["updated_at"], f"edit-{n}")
                        time.sleep(0.02)
            except BaseException as exc:  # surfaced by the test's thread, not lost in this one
                errors.append(exc)

        backfilling = subprocess.Popen([DROPSYNC, "sync", "backfill"], env={**os.environ, "COLUMNS": "200", **env},
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        edits = threading.Thread(target=merchant)
        edits.start()
        _, err = backfilling.communicate(timeout=240)
        (tmp_path / "backfill.log").write_text(err)  # among the logs shown when a later check fails
        edits.join(60)
        assert not errors, errors
        assert backfilling.returncode == 0, err[-3000:]
        assert len(touched) > 150
        assert len(created) == 10

        deadline = time.monotonic() + 120
        while not _ledger_settled(committed_db):
            assert time.monotonic() < deadline, "the worker left deliveries unhandled\n" + logs()
            time.sleep(0.3)
        # Every order reaches its newest version without a reconciliation. Webhooks give updated_at to the
        # second (Shopify's REST); of two webhooks of one second, X-Shopify-Triggered-At tells the later; a
        # webhook's and an export's version of one second cannot be told apart, so whichever came second has
        # the order re-read (the backfill's batch or the drain queues it, the worker reads it).
        newest = {f"gid://shopify/Order/{n}": (dt.datetime.fromisoformat(t), [tag]) for n, (t, tag) in touched.items()}
        deadline = time.monotonic() + 60
        while behind := _behind(committed_db, newest):
            assert time.monotonic() < deadline, f"orders behind their newest version: {behind}\n" + logs()
            time.sleep(0.3)
        _wait_for_source(committed_db, f"gid://shopify/Order/{early}", "reconcile", logs)  # read again by the worker
        _two_edits_in_one_second(api, committed_db, logs)
    finally:
        worker.stop(30)
        web.stop()

    with Session(committed_db) as session:
        count, distinct = session.execute(select(func.count(), func.count(func.distinct(Order.shopify_gid)))).one()
        assert count == distinct
        gids = set(session.scalars(select(Order.shopify_gid)))
        assert set(created) <= gids, "an order created during the backfill is missing"
        assert count >= ORDERS + len(created)
        failed = session.scalar(select(func.count()).where(WebhookDelivery.last_error.is_not(None)))
        assert failed == 0
    # A reconciliation (the beat's, every 5 minutes) finds nothing to correct.
    reconciled = dropsync("sync", "reconcile", env=env, timeout=120)
    assert reconciled.code == 0, reconciled.err
    assert _behind(committed_db, newest) == {}


Version = tuple[dt.datetime, list[str]]


def _second(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


def _behind(engine: Engine, newest: dict[str, Version]) -> dict[str, tuple[Version, Version]]:
    """Orders whose ledger version (updated_at to the second, tags) is not the newest: gid -> (ledger's, newest)."""
    with Session(engine) as session:
        rows = session.execute(
            select(Order.shopify_gid, Order.shopify_updated_at, Order.tags).where(Order.shopify_gid.in_(list(newest)))
        ).all()
    have = {gid: (stamp, list(tags)) for gid, stamp, tags in rows}
    assert set(have) == set(newest)
    return {
        gid: (version, newest[gid])
        for gid, version in have.items()
        if (_second(version[0]), version[1]) != (_second(newest[gid][0]), newest[gid][1])
    }
