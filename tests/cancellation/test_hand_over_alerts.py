"""Liveness: a cancellation request that waits for a person is in front of one, and only while it waits.

- After the seller refused and the tracking deadline passed, ``cancellation:open_dispute:{request}:{supplier
  order}`` asks for a dispute: only for the supplier order that refused, not when a dispute is already
  open, and resolved once a dispute is recorded or the request ends (the seller shipped: a return now).
- A request ``requested`` whose seller is paid waits for a person to ask the seller on AliExpress (there is
  no API): an alert with ``dropsync supplier cancel-requested``, listed by ``dropsync check``, resolved when
  the request is recorded.
- ``dropsync intents resolve N --as succeeded`` on a failed intent resolves its ``intent_failed`` alert;
  ``--as failed`` on a live one hands the request to a person with an alert, like every other hand-over.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, CancellationRequest, Order, Shop, ShopifyIntent, SupplierOrder
from models.types import utcnow
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.cancellation.faults import LossyClient
from tests.shopify_sandbox.helpers import data
from tests.support.cli import InProcess, in_process
from worker.cancellation import execution, service, sweeper
from worker.cancellation import intents as ik
from worker.cancellation import states as s
from worker.db import session_scope
from worker.settings import get_settings
from worker.supplier import disputes
from worker.supplier import service as supplier

pytestmark = pytest.mark.usefixtures("published")

CANCEL = """mutation($id: ID!) {
  orderCancel(orderId: $id, reason: CUSTOMER, restock: true, refund: true) { job { id } }
}"""


@pytest.fixture
def cli(
    shop: Shop, published: Published, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[InProcess]:
    yield in_process(monkeypatch, capsys, {"SHOPIFY_SHOP_DOMAIN": "cli-unused.myshopify.com", "COLUMNS": "300"})
    get_settings.cache_clear()


@pytest.fixture
def lossy(sandbox: ShopifySandbox) -> Iterator[LossyClient]:
    with LossyClient(
        sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url, backoff_initial=0.01
    ) as c:
        yield c


def _paid_supplier_order(order_id: int, number: str, *, paid_days_ago: int = 0) -> int:
    with session_scope() as session:
        so = supplier.link_supplier_order(session, session.get_one(Order, order_id), number, None, "operator:test")
        so.status, so.amount_paid = "awaiting_shipment", Decimal("8.00")
        so.paid_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=paid_days_ago)
        return so.id


def _request(order_id: int, *, actor: str = "operator:test", source: str = "operator") -> int:
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        return service.create_request(session, order, reason="out_of_stock", actor=actor, source=source).id


def _open_alerts(order_id: int) -> list[str]:
    with session_scope() as session:
        query = select(Alert.dedupe_key).where(Alert.order_id == order_id, Alert.resolved_at.is_(None))
        return list(session.scalars(query))


def _state(request_id: int) -> str:
    with session_scope() as session:
        return session.get_one(CancellationRequest, request_id).state


# -- "open a dispute" after a refusal ------------------------------------------------------------------


def _deadline_passes(*so_ids: int) -> None:
    """The seller's handling time passes with no tracking."""
    with session_scope() as session:
        for so_id in so_ids:
            session.get_one(SupplierOrder, so_id).handling_deadline = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)


def _refused_request(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, number: str) -> tuple[int, int, int]:
    """An order, its paid supplier order, a cancellation request the seller refused: (order, so, request)."""
    order_id = mirror(client, shop.id, sandbox.control.create_order(status="paid", line_items=1))
    so_id = _paid_supplier_order(order_id, number)
    request_id = _request(order_id)
    with session_scope() as session:
        supplier.record_cancellation_requested(session, session.get_one(SupplierOrder, so_id), "operator:test")
    with session_scope() as session:
        supplier.record_seller_refused(session, session.get_one(SupplierOrder, so_id), "operator:test")
    assert _state(request_id) == s.SUPPLIER_REFUSED
    _deadline_passes(so_id)
    with session_scope() as session:
        assert sweeper.sweep(session, dt.datetime.now(dt.UTC)).dispute_alerts == 1
    return order_id, so_id, request_id


def _dispute_alert(request_id: int, so_id: int) -> Alert:
    with session_scope() as session:
        key = f"cancellation:open_dispute:{request_id}:{so_id}"
        alert = session.scalars(select(Alert).where(Alert.dedupe_key == key)).one()
        session.expunge(alert)
        return alert


def test_the_open_a_dispute_alert_is_resolved_once_the_dispute_is_recorded(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    order_id, so_id, request_id = _refused_request(sandbox, client, shop, "8200000000000001")
    assert _dispute_alert(request_id, so_id).resolved_at is None
    # The person does exactly what the alert says (`dropsync dispute open ORDER --reason not_shipped`).
    with session_scope() as session:
        disputes.open_dispute(session, session.get_one(SupplierOrder, so_id), "not_shipped", "operator:test")
    # Every beat pass afterwards (and the deadlines and cross-check runs) had the chance to notice.
    with session_scope() as session:
        assert sweeper.sweep(session, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).dispute_alerts == 0
    assert _dispute_alert(request_id, so_id).resolved_at is not None, (
        "the dispute the alert asked for is recorded, yet 'open a dispute' stays open: dropsync check pages forever"
    )
    assert f"cancellation:open_dispute:{request_id}:{so_id}" not in _open_alerts(order_id)
    assert _dispute_alert(request_id, so_id).command == "dropsync dispute open 8200000000000001 --reason not_shipped"


def test_the_open_a_dispute_alert_is_resolved_when_the_seller_ships_and_the_request_ends(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    _, so_id, request_id = _refused_request(sandbox, client, shop, "8200000000000002")
    with session_scope() as session:
        so = session.get_one(SupplierOrder, so_id)
        supplier.record_shipped_claim(session, so, ["LP123456789CN"], "operator:test")
    # Resolved by the move itself: no sweep has run since.
    assert _state(request_id) == s.CONVERTED_TO_RETURN
    assert _dispute_alert(request_id, so_id).resolved_at is not None, (
        "the request is finished (the goods shipped, it is a return now), yet its 'open a dispute' alert stays open"
    )
    with session_scope() as session:
        sweeper.sweep(session, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    assert _dispute_alert(request_id, so_id).resolved_at is not None


def test_no_open_a_dispute_alert_for_a_supplier_order_already_disputed(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    """The person opened the dispute before the deadline: asking for it afterwards is stale advice."""
    order_id = mirror(client, shop.id, sandbox.control.create_order(status="paid", line_items=1))
    so_id = _paid_supplier_order(order_id, "8200000000000003")
    request_id = _request(order_id)
    with session_scope() as session:
        supplier.record_cancellation_requested(session, session.get_one(SupplierOrder, so_id), "operator:test")
    with session_scope() as session:
        supplier.record_seller_refused(session, session.get_one(SupplierOrder, so_id), "operator:test")
    with session_scope() as session:
        disputes.open_dispute(session, session.get_one(SupplierOrder, so_id), "not_shipped", "operator:test")
    assert _state(request_id) == s.SUPPLIER_REFUSED
    _deadline_passes(so_id)
    with session_scope() as session:
        raised = sweeper.sweep(session, dt.datetime.now(dt.UTC)).dispute_alerts
    assert raised == 0, "a dispute is already open on this supplier order: 'open a dispute' is a false page"
    assert not [k for k in _open_alerts(order_id) if k.startswith("cancellation:open_dispute:")]


def test_open_a_dispute_is_asked_only_for_the_supplier_order_that_refused(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    """Two supplier orders, both asked to cancel; one seller refuses, the other has not answered yet."""
    order_id = mirror(client, shop.id, sandbox.control.create_order(status="paid", line_items=2))
    refusing, pending = (
        _paid_supplier_order(order_id, "8200000000000004"),
        _paid_supplier_order(order_id, "8200000000000005"),
    )
    request_id = _request(order_id)
    for so_id in (refusing, pending):
        with session_scope() as session:
            supplier.record_cancellation_requested(session, session.get_one(SupplierOrder, so_id), "operator:test")
    with session_scope() as session:
        supplier.record_seller_refused(session, session.get_one(SupplierOrder, refusing), "operator:test")
    assert _state(request_id) == s.SUPPLIER_REFUSED
    _deadline_passes(refusing, pending)
    with session_scope() as session:
        assert sweeper.sweep(session, dt.datetime.now(dt.UTC)).dispute_alerts == 1
    assert [k for k in _open_alerts(order_id) if k.startswith("cancellation:open_dispute:")] == [
        f"cancellation:open_dispute:{request_id}:{refusing}"
    ], "the seller who has not answered yet is asked about in a dispute alert"


# -- a request waiting for a person to ask the seller ---------------------------------------------------


@pytest.mark.parametrize("source", ["operator", service.FULFILLMENT_SERVICE])
def test_a_request_waiting_for_the_seller_to_be_asked_is_listed_by_check_and_alerted(
    source: str,
    cli: InProcess,
    sandbox: ShopifySandbox,
    client: ShopifyClient,
    shop: Shop,
    capsys: pytest.CaptureFixture[str],
) -> None:
    order_id = mirror(client, shop.id, sandbox.control.create_order(status="paid", line_items=1))
    # Paid three days ago, awaiting shipment: the seller's handling time (7 business days) is running.
    so_id = _paid_supplier_order(order_id, "8300000000000001", paid_days_ago=3)
    with session_scope() as session:
        session.get_one(SupplierOrder, so_id).next_poll_at = None  # the poll does not ask the seller
    # The merchant asked in Shopify (fulfillment_orders/cancellation_request_submitted opens it with actor
    # shopify:webhook, no person involved), or an operator opened it.
    actor = "shopify:webhook" if source == service.FULFILLMENT_SERVICE else "operator:test"
    request_id = _request(order_id, actor=actor, source=source)
    assert _state(request_id) == s.REQUESTED
    # Beat runs its sweeps; nothing changes on the supplier side, because only a person can ask the seller.
    with session_scope() as session:
        sweeper.sweep(session, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert _state(request_id) == s.REQUESTED
    alerts = _open_alerts(order_id)
    assert alerts, "no alert (hence no notification) for the request waiting on a person"
    # Lines logged in this process before any in-process CLI run configured logging (structlog's default
    # prints to stdout) are not the command's output.
    capsys.readouterr()
    code, out, _ = cli("check", "--json")
    report = json.loads(out)
    assert report["needs_attention"], (
        f"cancellation request {request_id} waits for a person to ask the seller on AliExpress, "
        f"yet dropsync check says nothing needs a person: {report}"
    )
    assert code == 1
    (item,) = [i for i in report["items"] if "cancel-requested" in (i["command"] or "")]
    assert item["command"] == "dropsync supplier cancel-requested 8300000000000001"
    assert item["kind"] == "cancellation_ask_seller"
    # The person asks the seller and records it: the request moves on, the alert is resolved.
    code, _, err = cli("supplier", "cancel-requested", "8300000000000001")
    assert code == 0, err
    assert _state(request_id) == s.SUPPLIER_CANCEL_REQUESTED
    assert not [k for k in _open_alerts(order_id) if k.startswith(f"cancellation:ask_seller:{request_id}:")]
    with session_scope() as session:
        assert sweeper.sweep(session, dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).ask_seller_alerts == 0


def test_every_paid_seller_is_asked_not_only_the_first(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, cli: InProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """An order bought from two sellers: the person asks the first and records it, so the request is
    supplier_cancel_requested. The second seller, nobody asked, still ships unless someone asks: it stays in
    front of a person until it is asked too; then the two cancellations carry the request to Shopify."""
    order_id = mirror(client, shop.id, sandbox.control.create_order(status="paid", line_items=2))
    first = _paid_supplier_order(order_id, "8300000000000011")
    second = _paid_supplier_order(order_id, "8300000000000012")
    request_id = _request(order_id)
    assert _state(request_id) == s.REQUESTED
    keys = {f"cancellation:ask_seller:{request_id}:{first}", f"cancellation:ask_seller:{request_id}:{second}"}
    assert set(_open_alerts(order_id)) >= keys
    capsys.readouterr()
    code, _, err = cli("supplier", "cancel-requested", "8300000000000011")
    assert code == 0, err
    assert _state(request_id) == s.SUPPLIER_CANCEL_REQUESTED
    with session_scope() as session:
        sweeper.sweep(session, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    open_now = [k for k in _open_alerts(order_id) if k.startswith(f"cancellation:ask_seller:{request_id}:")]
    assert open_now == [f"cancellation:ask_seller:{request_id}:{second}"], open_now
    capsys.readouterr()
    code, out, _ = cli("check", "--json")
    (item,) = [i for i in json.loads(out)["items"] if i["kind"] == "cancellation_ask_seller"]
    assert item["command"] == "dropsync supplier cancel-requested 8300000000000012"
    code, _, err = cli("supplier", "cancel-requested", "8300000000000012")
    assert code == 0, err
    assert not [k for k in _open_alerts(order_id) if k.startswith(f"cancellation:ask_seller:{request_id}:")]
    with session_scope() as session:
        for so_id in (first, second):
            supplier.record_cancellation_confirmed(session, session.get_one(SupplierOrder, so_id), "operator:test")
    assert _state(request_id) == s.SHOPIFY_ACTION


def test_a_request_with_nothing_paid_to_the_seller_raises_no_ask_the_seller_alert(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    """Nothing at stake with the seller: straight to Shopify, nobody is asked to do anything."""
    order_id = mirror(client, shop.id, sandbox.control.create_order(status="paid", line_items=1))
    request_id = _request(order_id)
    assert _state(request_id) == s.SHOPIFY_ACTION
    with session_scope() as session:
        assert sweeper.sweep(session, dt.datetime.now(dt.UTC)).ask_seller_alerts == 0
    assert _open_alerts(order_id) == []


# -- dropsync intents resolve ----------------------------------------------------------------------------


def _intent(request_id: int) -> ShopifyIntent:
    with session_scope() as session:
        intent = session.scalars(select(ShopifyIntent).where(ShopifyIntent.cancellation_request_id == request_id)).one()
        session.expunge(intent)
        return intent


def test_resolving_a_failed_intent_as_succeeded_resolves_its_alert(
    cli: InProcess, sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(lossy, shop.id, gid)
    request_id = _request(order_id)
    lossy.lose_before = 100  # Shopify unreachable for a while: the intent exhausts its attempts
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    intent_id = _intent(request_id).id
    for _ in range(ik.MAX_ATTEMPTS - 1):
        execution.execute_intent(session_scope, intent_id, lossy)
    with session_scope() as session:
        assert sweeper.sweep(session, utcnow() + dt.timedelta(hours=2)).failed == 1
    assert _intent(request_id).state == "failed"
    assert ik.failed_alert_key(_intent(request_id)) in _open_alerts(order_id)
    # The merchant cancels the order in Shopify's admin instead ...
    data(sandbox, CANCEL, {"id": gid})
    # ... and records it on the failed intent.
    code, out, err = cli("intents", "resolve", str(intent_id), "--as", "succeeded", "--note", "seen cancelled")
    assert code == 0, err
    assert _intent(request_id).state == "succeeded"
    assert ik.failed_alert_key(_intent(request_id)) not in _open_alerts(order_id)
    lossy.lose_before = 0
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert _state(request_id) == s.DONE
    assert _open_alerts(order_id) == [], "the intent succeeded and its request is done, yet its alert stays open"
    code, out, _ = cli("check", "--json")
    kinds = [i["kind"] for i in json.loads(out)["items"]]
    assert "intent_failed" not in kinds, f"dropsync check still pages for a finished action: {kinds}"


def test_resolving_a_live_intent_as_failed_puts_the_request_in_front_of_a_person(
    cli: InProcess, sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(lossy, shop.id, gid)
    request_id = _request(order_id)
    lossy.lose_before = 1  # never reached Shopify: outcome unknown
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    intent_id = _intent(request_id).id
    # The person checks Shopify, sees nothing happened, and says so.
    code, _, err = cli("intents", "resolve", str(intent_id), "--as", "failed", "--note", "not cancelled in admin")
    assert code == 0, err
    assert _state(request_id) == s.NEEDS_OPERATOR
    code, out, _ = cli("check", "--json")
    report = json.loads(out)
    assert report["needs_attention"], (
        f"cancellation request {request_id} is handed to a person (needs_operator) with no alert, and "
        f"dropsync check says nothing needs a person: {report}"
    )
    assert code == 1
    assert _open_alerts(order_id), "the hand-over raised no alert: nobody is notified"
    with session_scope() as session:
        (alert,) = session.scalars(select(Alert).where(Alert.order_id == order_id, Alert.resolved_at.is_(None)))
        assert alert.kind == "cancellation_needs_operator"
        assert f"dropsync intents retry {intent_id}" in alert.message
    # The person retries: the request is taken back from them, and so is the alert.
    code, _, err = cli("intents", "retry", str(intent_id))
    assert code == 0, err
    assert _state(request_id) == s.SHOPIFY_ACTION
    assert _open_alerts(order_id) == []
