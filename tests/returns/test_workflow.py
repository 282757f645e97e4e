"""Returns against the Shopify sandbox, in process: the sandbox's own record judges "exactly once"."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import LineItem, Order, Shop, ShopifyIntent
from sandboxes.shopify import ShopifySandbox
from tests.returns.conftest import Published, fulfilled_order, refunded, return_case
from worker.db import session_scope
from worker.returns import execution, service
from worker.returns import states as rs
from worker.returns.evidence import parse_evidence

pytestmark = pytest.mark.usefixtures("published")


def _first_line(order_id: int) -> tuple[int, str, Decimal]:
    with session_scope() as session:
        line = session.scalars(select(LineItem).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
        assert line is not None
        return line.id, line.shopify_gid, line.unit_price


def test_damaged_line_kept_by_the_customer_is_returned_refunded_and_closed_once(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    line_id, _line_gid, _ = _first_line(order_id)
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        case = service.request_return(
            session, order, reason="damaged", items={str(line_id): 1}, evidence=parse_evidence("photos=IMG_1.jpg"),
            keep_item=True, actor="operator:test",
        )  # fmt: skip
        return_id, decided = case.id, case.policy_decision or {}
    assert decided["action"] in ("refund_items", "refund_partial"), decided["reasons"]
    assert return_case(return_id).state == rs.SHOPIFY_ACTION
    assert published.take() == [(service.ADVANCE_TASK, [return_id])]

    assert execution.run_return(session_scope, return_id, client) == "done"
    assert execution.run_return(session_scope, return_id, client) == "idle"  # a redelivery: nothing more
    case = return_case(return_id)
    assert case.state == rs.DONE
    assert case.shopify_gid is not None
    snap = sandbox.control.return_snapshot(case.shopify_gid)
    assert snap["status"] == "CLOSED"
    counts = sandbox.control.return_mutation_counts(case.shopify_gid)
    assert {k: v["applied"] for k, v in counts.items()} == {"returnCreate": 1, "returnProcess": 1, "returnClose": 1}
    assert sandbox.control.applied_counts(gid).get("refundCreate") is None
    # Only that line's amount moved, once, and the ledger mirrors it.
    assert case.refund_total == Decimal(decided["refund_total"]) > 0
    assert refunded(order_id) == case.refund_total
    with session_scope() as session:
        intents = session.scalars(select(ShopifyIntent).where(ShopifyIntent.return_id == return_id)).all()
        assert sorted(i.kind for i in intents) == ["return_close", "return_create", "return_process"]
        assert {i.state for i in intents} == {"succeeded"}


def test_a_return_the_policy_denies_never_reaches_shopify(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    with session_scope() as session:
        case = service.request_return(session, session.get_one(Order, order_id), reason="changed_mind", actor="op:t")
        assert case.state == rs.DENIED
    assert published.take() == []
    assert sandbox.control.applied_counts(gid) == {}


def test_damaged_without_photos_waits_for_a_person_then_proceeds(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    _gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    line_id, _, _ = _first_line(order_id)
    with session_scope() as session:
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): 1}, keep_item=True,
            actor="operator:test",
        )  # fmt: skip
        return_id = case.id
        assert case.state == rs.NEEDS_APPROVAL
    with session_scope() as session:
        service.approve(session, service.get_return(session, return_id), "operator:test", parse_evidence("photos"))
    assert execution.run_return(session_scope, return_id, client) == "done"
    assert refunded(order_id) > 0


def test_customer_request_the_store_policy_accepts_is_approved_processed_closed_and_refunded_once(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, store_policy: object
) -> None:
    from worker.returns.view import read_return

    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    _, line_gid, _ = _first_line(order_id)
    return_gid = sandbox.control.return_request(
        gid, [{"line_item_id": line_gid, "quantity": 1, "reason": "SIZE_TOO_SMALL"}]
    )
    with session_scope() as session:
        case = service.mirror_return(session, shop.id, read_return(client, return_gid))
        assert case is not None
        assert case.reason == "wrong_size"
        assert case.verdict == "approve", (case.policy_decision or {}).get("reasons")
        return_id = case.id
    assert execution.run_return(session_scope, return_id, client) == "done"
    counts = sandbox.control.return_mutation_counts(return_gid)
    assert {k: v["applied"] for k, v in counts.items() if v["applied"]} == {
        "returnRequest": 1, "returnApproveRequest": 1, "returnProcess": 1, "returnClose": 1,
    }  # fmt: skip
    assert refunded(order_id) == return_case(return_id).refund_total > 0


def test_customer_request_the_policy_declines_is_declined_with_the_reason_and_nothingrefunded(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    from worker.returns.view import read_return

    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    _, line_gid, _ = _first_line(order_id)
    return_gid = sandbox.control.return_request(gid, [{"line_item_id": line_gid, "quantity": 1, "reason": "UNWANTED"}])
    with session_scope() as session:
        case = service.mirror_return(session, shop.id, read_return(client, return_gid))
        assert case is not None
        assert case.verdict == "decline"
        return_id = case.id
    assert execution.run_return(session_scope, return_id, client) == "declined"
    snap = sandbox.control.return_snapshot(return_gid)
    assert snap["status"] == "DECLINED"
    assert snap["decline"]["reason"] == "OTHER"
    assert "not accepted" in snap["decline"]["note"]
    assert refunded(order_id) == 0


def test_the_sweeper_advances_a_return_whose_message_was_lost(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    import datetime as dt

    from models.types import utcnow
    from worker.returns import sweeper

    _, order_id, _ = fulfilled_order(sandbox, client, shop)
    line_id, _, _ = _first_line(order_id)
    with session_scope() as session:
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): 1}, keep_item=True,
            evidence=parse_evidence("photos"), actor="operator:test",
        )  # fmt: skip
        return_id = case.id
    published.take()  # the advance message is "lost"
    later = utcnow() + dt.timedelta(minutes=2)
    with session_scope() as session:
        assert sweeper.sweep(session, later) == 1
        assert sweeper.sweep(session, later) == 0  # once per return per minute
    assert published.take() == [(service.ADVANCE_TASK, [return_id])]
    assert execution.run_return(session_scope, return_id, client) == "done"
    with session_scope() as session:
        assert sweeper.sweep(session, later + dt.timedelta(minutes=5)) == 0  # finished: nothing to advance


def test_a_request_whose_webhook_was_lost_is_found_by_the_reconciliation(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    from worker.returns import sweeper, tasks

    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    _, line_gid, _ = _first_line(order_id)
    return_gid = sandbox.control.return_request(gid, [{"line_item_id": line_gid, "quantity": 1, "reason": "UNWANTED"}])
    requested = sweeper.requested_on_shopify(client)
    assert return_gid in requested
    with session_scope() as session:
        assert sweeper.reconcile_requests(session, shop.id, requested) >= 1
        assert sweeper.reconcile_requests(session, shop.id, requested) == 0  # once per hour
    assert (service.SYNC_TASK, [shop.id, return_gid]) in published.take()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tasks, "client_for_shop", lambda _shop_id: _Borrowed(client))
        assert tasks.sync(shop.id, return_gid) == "declined"
    with session_scope() as session:
        assert sweeper.reconcile_requests(session, shop.id, sweeper.requested_on_shopify(client)) == 0


class _Borrowed:
    """``client_for_shop`` over the test's client (the task opens and closes its own otherwise)."""

    def __init__(self, client: ShopifyClient) -> None:
        self.client = client

    def __enter__(self) -> ShopifyClient:
        return self.client

    def __exit__(self, *_: object) -> None:
        return None


def test_a_return_created_past_the_first_page_of_the_order_s_returns_is_recognised_not_created_again(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    """The customer already asked for eleven returns (one line each); dropsync's returnCreate for the twelfth
    line is applied and its answer lost. The retry reads the order's returns, every page of them, finds the
    twelfth by its note and adopts it: one returnCreate applied. On the first page only (10 returns) it was
    not found: returnCreate was sent again, Shopify refused it (the unit is in a return already) and the
    case stopped for a person with an alert."""
    gid, order_id, _ = fulfilled_order(sandbox, client, shop, lines=12)
    with session_scope() as session:
        lines = session.scalars(select(LineItem).where(LineItem.order_id == order_id).order_by(LineItem.id)).all()
        wanted = [(line.id, line.shopify_gid) for line in lines]
    for _, line_gid in wanted[:11]:
        sandbox.control.return_request(gid, [{"line_item_id": line_gid, "quantity": 1, "reason": "UNWANTED"}])
    with session_scope() as session:
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(wanted[11][0]): 1},
            evidence=parse_evidence("photos"), keep_item=True, actor="operator:test",
        )  # fmt: skip
        return_id = case.id
    sandbox.control.fail_next("drop", field="returnCreate")
    for _ in range(5):
        if execution.run_return(session_scope, return_id, client) == "done":
            break
    case = return_case(return_id)
    assert case.state == rs.DONE
    assert case.shopify_gid is not None
    counts = sandbox.control.return_mutation_counts(case.shopify_gid)
    assert counts["returnCreate"]["applied"] == 1
    created = [m for m in sandbox.control.mutations(gid) if m["name"] == "returnCreate" and m["applied"]]
    assert len(created) == 1  # on the order, not only on the return it adopted


def test_a_line_past_the_first_page_of_its_fulfillment_is_returned(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    """An order of 25 lines shipped in one fulfillment: the return of its 23rd line points at that
    fulfillment's 23rd line item, which ``OrderReturnables``' first page (20) does not hold; the next page
    is read, and the return is created, processed and closed once. On the first page only, the line was
    not found among what can be returned and the case stopped for a person."""
    gid, order_id, _ = fulfilled_order(sandbox, client, shop, lines=25)
    with session_scope() as session:
        lines = session.scalars(select(LineItem).where(LineItem.order_id == order_id).order_by(LineItem.id)).all()
        assert len(lines) == 25
        line_id, line_gid = lines[22].id, lines[22].shopify_gid
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line_id): 1},
            evidence=parse_evidence("photos"), keep_item=True, actor="operator:test",
        )  # fmt: skip
        return_id = case.id
    assert execution.run_return(session_scope, return_id, client) == "done"
    case = return_case(return_id)
    assert case.state == rs.DONE
    assert case.shopify_gid is not None
    snap = sandbox.control.return_snapshot(case.shopify_gid)
    assert snap["status"] == "CLOSED"
    assert [line["line_item_id"] for line in snap["line_items"]] == [line_gid]
    counts = sandbox.control.return_mutation_counts(case.shopify_gid)
    assert {k: v["applied"] for k, v in counts.items()} == {"returnCreate": 1, "returnProcess": 1, "returnClose": 1}
    created = [m for m in sandbox.control.mutations(gid) if m["name"] == "returnCreate"]
    assert [m["applied"] for m in created] == [True]  # sent once, never refused for blank lines
