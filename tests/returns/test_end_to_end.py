"""The returns workflow end to end: the Shopify and AliExpress sandboxes as HTTP servers, ``dropsync web``
and a Celery worker as real processes on PostgreSQL + Redis; the operator through the CLI.

- a damaged line on a delivered (carrier scan) multi-item order: policy → Shopify return + refund of that
  line only → AliExpress dispute after receipt → supplier refund recorded → nothing left to recover;
- a customer's self-serve request the store's policy accepts (approved, processed, closed, refunded once),
  and one it declines (declined with the policy's reason, nothing refunded), both arriving by webhook;
- a cancellation that turned into a return because the seller had shipped, carried on to a refund;
- goods that never come back: the worker's sweep puts the return in front of a person, and the merchant
  closing it on Shopify ends it with nothing refunded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import CancellationRequest, LedgerEntry, LineItem, ReturnCase, Shop, SupplierOrder
from sandboxes.aliexpress import AliExpressSandbox
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import mirror
from tests.cancellation.test_crash import _env, _worker
from tests.shopify_sandbox.helpers import data
from tests.support.cli import in_process
from worker import outbox
from worker.celery_app import create_app
from worker.db import session_scope
from worker.returns import states as rs
from worker.runtime import ManagedProcess, web_argv
from worker.settings import get_settings, load_settings
from worker.stack import free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis]

TOPICS = (
    "returns/request", "returns/approve", "returns/decline", "returns/cancel", "returns/close", "returns/process",
    "returns/update", "refunds/create", "orders/updated",
)  # fmt: skip


@dataclass
class Live:
    shopify: ShopifySandbox
    aliexpress: AliExpressSandbox
    client: ShopifyClient
    shop: Shop
    log: Path
    cli: Callable[..., tuple[int, str, str]]
    publish: Callable[[str, list[Any]], None]  # a task message to the worker (as the beat sends it)

    def wait(self, what: str, probe: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if probe():
                return
            time.sleep(0.25)
        logs = "".join(p.read_text()[-3000:] for p in self.log.parent.glob("*.log"))
        pytest.fail(f"timed out waiting for {what}; logs:\n{logs}")

    def ok(self, *args: str) -> Any:
        code, out, err = self.cli(*args, "--json")
        assert code == 0, (args, out, err)
        return json.loads(out)


@pytest.fixture
def live(
    sandbox: ShopifySandbox, aliexpress_sandbox: AliExpressSandbox, client: ShopifyClient, shop: Shop,
    database_url: str, redis_url: str, tmp_path: Path, store_policy: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Live]:  # fmt: skip
    ali = aliexpress_sandbox.config
    env = {
        **_env(database_url, redis_url, tmp_path, "none"), "DROPSYNC_POLICY_FILE": str(store_policy),
        "DROPSYNC_TASK_TIME_LIMIT": "40", "DROPSYNC_TASK_VISIBILITY_TIMEOUT": "50",
        "ALIEXPRESS_API_URL": str(aliexpress_sandbox.base_url), "ALIEXPRESS_APP_KEY": str(ali.app_key),
        "ALIEXPRESS_APP_SECRET": str(ali.app_secret), "ALIEXPRESS_ACCESS_TOKEN": str(ali.access_token),
        "ALIEXPRESS_REFRESH_TOKEN": str(ali.refresh_token or ""),
        "ALIEXPRESS_GATEWAY_TIMEZONE": str(ali.gateway_timezone),
    }  # fmt: skip
    cli = in_process(monkeypatch, capsys, {k: v for k, v in env.items() if not k.startswith("DROPSYNC_FAILPOINT")})
    broker = create_app(load_settings())  # this process publishes (outbox) to the worker's Redis queue

    def publish(task: str, args: list[Any]) -> None:
        broker.send_task(task, args=args)

    previous = outbox.set_publisher(publish)
    port, log = free_port(), tmp_path / "worker.log"
    web = ManagedProcess("web", web_argv(port), env=env, log_path=tmp_path / "web.log").start()
    worker = _worker(env, log)
    try:
        _healthy(f"http://127.0.0.1:{port}/healthz")
        for topic in TOPICS:
            sandbox.control.subscribe(topic, f"http://127.0.0.1:{port}/webhooks/shopify")
        yield Live(sandbox, aliexpress_sandbox, client, shop, log, cli, publish)
    finally:
        worker.stop()
        web.stop()
        outbox.set_publisher(previous)
        get_settings.cache_clear()


def _healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer")


def _order_with_supplier(live: Live, *, lines: int, amount: str, deliver: str | None) -> tuple[str, int, str, int]:
    """A fulfilled Shopify order carrying its AliExpress number; the AliExpress order shipped and
    delivered by the carrier (``deliver='carrier'``) or confirmed received (``'receipt'``)."""
    ae = live.aliexpress.paid_order(amount)
    live.aliexpress.ship(ae, "LP00RET0001CN")
    if deliver in ("carrier", "receipt"):
        live.aliexpress.deliver(ae)
    if deliver == "receipt":
        live.aliexpress.confirm_receipt(ae)
    gid = live.shopify.control.create_order(status="fulfilled", line_items=lines, aliexpress_order_id=ae)
    order_id = mirror(live.client, live.shop.id, gid)
    with session_scope() as session:
        so_id = session.scalars(select(SupplierOrder.id).where(SupplierOrder.order_id == order_id)).one()
    live.ok("supplier", "poll", ae)  # the operator's poll (the worker's beat does the same)
    return gid, order_id, ae, so_id


def _return_of(order_id: int) -> ReturnCase | None:
    with session_scope() as session:
        found = session.scalars(select(ReturnCase).where(ReturnCase.order_id == order_id)).first()
        if found is not None:
            session.expunge(found)
        return found


def _refunded(order_id: int) -> Decimal:
    with session_scope() as session:
        amounts = select(LedgerEntry.amount).where(
            LedgerEntry.order_id == order_id, LedgerEntry.kind == "customer_refund"
        )
        return sum(session.scalars(amounts).all(), Decimal(0))


def _lines(order_id: int) -> list[tuple[int, Decimal]]:
    with session_scope() as session:
        rows = session.execute(select(LineItem.id, LineItem.unit_price).where(LineItem.order_id == order_id))
        return sorted((int(i), Decimal(p)) for i, p in rows)


def _state_is(order_id: int, state: str) -> Callable[[], bool]:
    return lambda: (case := _return_of(order_id)) is not None and case.state == state


def test_damaged_line_refunded_alone_then_recovered_from_the_seller(live: Live) -> None:
    gid, order_id, ae, _ = _order_with_supplier(live, lines=3, amount="60.00", deliver="carrier")
    with session_scope() as session:
        so = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order_id)).one()
        assert (so.status, so.raw_logistics_status) == ("delivered", "DELIVERED")  # the carrier's scan counts
    (line_id, _), *_ = _lines(order_id)
    name = live.ok("orders", "show", gid)["order"]["name"]
    shown = live.ok("returns", "request", name, "--reason", "damaged", "--items", f"{line_id}:1",
                    "--evidence", "photos=IMG_0412.jpg", "--keep-item")  # fmt: skip
    assert shown["verdict"] == "approve"
    assert shown["goods_back"] is False
    planned = Decimal(shown["refund_planned"])
    live.wait("the return refunded and closed", _state_is(order_id, rs.DONE))
    case = _return_of(order_id)
    assert case is not None
    assert case.shopify_gid is not None
    counts = live.shopify.control.return_mutation_counts(case.shopify_gid)
    assert {k: v["applied"] for k, v in counts.items() if v["applied"]} == {
        "returnCreate": 1, "returnProcess": 1, "returnClose": 1,
    }  # fmt: skip
    snap = live.shopify.control.snapshot(gid)
    assert Decimal(snap["total_refunded"]) == planned == case.refund_total  # that line only, once
    assert planned < Decimal(snap["total_received"])
    live.wait("the refund mirrored", lambda: _refunded(order_id) == planned)
    shown_order = live.ok("orders", "show", name)
    assert [e["kind"] for e in shown_order["evidence"]] == ["photos"]
    assert shown_order["returns"][0]["state"] == rs.DONE

    # The supplier should pay it back: a dispute-window deadline, then the dispute after receipt.
    deadlines = live.ok("deadlines")
    assert [d["stage"] for d in deadlines if d["kind"] == "dispute_window_near"] == ["near"], deadlines
    live.aliexpress.confirm_receipt(ae)
    live.ok("supplier", "poll", ae)
    live.aliexpress.open_dispute(ae, "damaged")
    live.ok("dispute", "open", ae, "--reason", "damaged")
    live.aliexpress.resolve_dispute(ae, outcome="partial_refund", amount=str(planned))
    code, out, err = live.cli("dispute", "resolve", ae, "partly_refunded", "--refund", str(planned))
    assert code == 0, (out, err)
    exposure = live.ok("report", "exposure", name)
    (row,) = exposure["orders"]
    assert Decimal(row["to_recover"]) == 0
    assert Decimal(row["recovered_from_supplier"]) == planned
    assert row["refund_due_at"] is None
    assert not any(d["kind"].startswith("dispute_window") for d in live.ok("deadlines"))


def test_customer_requests_one_accepted_one_declined_by_webhook(live: Live) -> None:
    accepted_gid, accepted_id, _, _ = _order_with_supplier(live, lines=2, amount="30.00", deliver="carrier")
    declined_gid, declined_id, _, _ = _order_with_supplier(live, lines=2, amount="30.00", deliver="carrier")
    line_gid = _gid_of_first_line(accepted_id)
    live.shopify.control.return_request(accepted_gid, [{"line_item_id": line_gid, "quantity": 1,
                                                         "reason": "SIZE_TOO_SMALL"}])  # fmt: skip
    live.shopify.control.return_request(declined_gid, [{"line_item_id": _gid_of_first_line(declined_id),
                                                         "quantity": 1, "reason": "UNWANTED"}])  # fmt: skip
    live.wait("the accepted request refunded and closed", _state_is(accepted_id, rs.DONE), 90)
    live.wait("the other request declined", _state_is(declined_id, rs.DECLINED), 90)

    accepted = _return_of(accepted_id)
    assert accepted is not None
    assert accepted.shopify_gid is not None
    counts = live.shopify.control.return_mutation_counts(accepted.shopify_gid)
    assert {k: v["applied"] for k, v in counts.items() if v["applied"]} == {
        "returnRequest": 1, "returnApproveRequest": 1, "returnProcess": 1, "returnClose": 1,
    }  # fmt: skip
    assert live.shopify.control.return_snapshot(accepted.shopify_gid)["status"] == "CLOSED"
    live.wait("the refund mirrored", lambda: _refunded(accepted_id) == accepted.refund_total > 0)
    assert Decimal(live.shopify.control.snapshot(accepted_gid)["total_refunded"]) == accepted.refund_total

    declined = _return_of(declined_id)
    assert declined is not None
    assert declined.shopify_gid is not None
    snap = live.shopify.control.return_snapshot(declined.shopify_gid)
    assert snap["status"] == "DECLINED"
    assert snap["decline"]["note"] == declined.decline_note
    assert "not accepted" in (declined.decline_note or "")
    assert Decimal(live.shopify.control.snapshot(declined_gid)["total_refunded"]) == 0
    assert _refunded(declined_id) == 0


def _gid_of_first_line(order_id: int) -> str:
    with session_scope() as session:
        return (
            session.scalars(
                select(LineItem.shopify_gid).where(LineItem.order_id == order_id).order_by(LineItem.id)
            ).first()
            or ""
        )


def test_a_cancellation_the_seller_overtook_continues_as_a_return_to_a_refund(live: Live) -> None:
    gid, order_id, _, _ = _order_with_supplier(live, lines=2, amount="30.00", deliver="carrier")
    name = live.ok("orders", "show", gid)["order"]["name"]
    code, out, err = live.cli("cancel", "request", name, "--reason", "wrong_size", "--json")
    assert code == 0, (out, err)
    assert json.loads(out)["state"] == "converted_to_return"
    live.wait("the return refunded and closed", _state_is(order_id, rs.DONE), 90)
    case = _return_of(order_id)
    assert case is not None
    with session_scope() as session:
        request = session.scalars(select(CancellationRequest).where(CancellationRequest.order_id == order_id)).one()
        assert case.cancellation_request_id == request.id
        assert case.source == "cancellation"
    live.wait("the refund mirrored", lambda: _refunded(order_id) == case.refund_total > 0)
    assert Decimal(live.shopify.control.snapshot(gid)["total_refunded"]) == case.refund_total
    assert case.shopify_gid is not None
    counts = live.shopify.control.return_mutation_counts(case.shopify_gid)
    assert counts["returnProcess"]["applied"] == 1
    timeline = [e["kind"] for e in live.ok("orders", "show", name)["timeline"]]
    assert "cancellation.converted_to_return" in timeline
    assert "return.done" in timeline


def test_the_23rd_line_of_a_25_line_shipment_is_returned(live: Live) -> None:
    """Played as an operator: a 25-line order shipped in one fulfillment, the 23rd line damaged. The
    worker reads every page of the shipment's lines (Shopify's first 20 do not hold it), creates the
    return of that line alone, processes and closes it once."""
    gid, order_id, _, _ = _order_with_supplier(live, lines=25, amount="90.00", deliver="carrier")
    with session_scope() as session:
        lines = session.execute(
            select(LineItem.id, LineItem.shopify_gid).where(LineItem.order_id == order_id).order_by(LineItem.id)
        ).all()
    assert len(lines) == 25
    line_id, line_gid = lines[22]
    name = live.ok("orders", "show", gid)["order"]["name"]
    shown = live.ok("returns", "request", name, "--reason", "damaged", "--items", f"{line_id}:1",
                    "--evidence", "photos=IMG_0413.jpg", "--keep-item")  # fmt: skip
    assert shown["verdict"] == "approve"
    live.wait("the return refunded and closed", _state_is(order_id, rs.DONE))
    case = _return_of(order_id)
    assert case is not None
    assert case.shopify_gid is not None
    snap = live.shopify.control.return_snapshot(case.shopify_gid)
    assert [line["line_item_id"] for line in snap["line_items"]] == [line_gid]
    counts = live.shopify.control.return_mutation_counts(case.shopify_gid)
    assert {k: v["applied"] for k, v in counts.items() if v["applied"]} == {
        "returnCreate": 1, "returnProcess": 1, "returnClose": 1,
    }  # fmt: skip


def test_goods_that_never_come_back_alert_a_person_and_closing_the_return_on_shopify_ends_it(live: Live) -> None:
    """Played as an operator: a wrong item the store wants back (its policy: ``wrong_item`` with the goods
    returned). The worker opens the return on Shopify and waits for the goods. 22 days on (the wait is 21)
    the worker's sweep raises ``return_goods_overdue``: ``dropsync check`` lists it with the command. The
    customer never sends it; the merchant closes the return in Shopify's admin: the returns/close webhook
    reaches the worker, which ends the return ``done`` with nothing refunded, and ``check`` is quiet."""
    gid, order_id, _, _ = _order_with_supplier(live, lines=2, amount="30.00", deliver="carrier")
    (line_id, _), *_ = _lines(order_id)
    name = live.ok("orders", "show", gid)["order"]["name"]
    shown = live.ok("returns", "request", name, "--reason", "wrong_item", "--items", f"{line_id}:1",
                    "--evidence", "photos=IMG_0500.jpg")  # fmt: skip
    assert (shown["verdict"], shown["goods_back"]) == ("approve", True)
    live.wait("the return opened on Shopify, waiting for the goods", _state_is(order_id, rs.AWAITING_GOODS))
    case = _return_of(order_id)
    assert case is not None
    assert case.shopify_gid is not None

    # The customer was told to send it back 22 days ago (the ledger's clock for this return, moved back).
    with session_scope() as session:
        row = session.get_one(ReturnCase, case.id)
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=22)).isoformat()
        row.state_history = [*row.state_history[:-1], {**row.state_history[-1], "at": past}]
    live.publish("returns.sweep", [])

    def overdue() -> list[dict[str, Any]]:
        _code, out, _ = live.cli("check", "--json")
        return [i for i in json.loads(out)["items"] if i["kind"] == "return_goods_overdue"]

    live.wait("the worker's sweep raising return_goods_overdue", lambda: len(overdue()) == 1)
    (item,) = overdue()
    assert f"dropsync returns received {case.id}" in item["message"] + (item.get("command") or "")
    assert "cancel the return on Shopify" in item["message"]

    closed = data(live.shopify, "mutation($id: ID!) { returnClose(id: $id) { userErrors { code } } }",
                  {"id": case.shopify_gid})  # fmt: skip
    assert closed["returnClose"]["userErrors"] == []
    live.wait("the return ended by the merchant's close", _state_is(order_id, rs.DONE))
    assert overdue() == []
    counts = live.shopify.control.return_mutation_counts(case.shopify_gid)
    assert {k: v["applied"] for k, v in counts.items() if v["applied"]} == {"returnCreate": 1, "returnClose": 1}
    assert _refunded(order_id) == 0
    assert Decimal(live.shopify.control.snapshot(gid)["total_refunded"]) == 0
