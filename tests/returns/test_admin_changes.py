"""A return someone processes or refunds in Shopify's admin while dropsync is on it: it goes to a person,
never refunded a second time, never recorded as dropsync's refund nor as done with nothing refunded.

dropsync's own ``returnProcess`` (no idempotency key) is recognised by its intent key in the refund's note:
that one, and only that one, is adopted when an earlier attempt's answer was lost.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, IntentState, LineItem, Order, ReturnCase, Shop, ShopifyIntent
from sandboxes.shopify import ShopifySandbox
from tests.returns.conftest import Published, fulfilled_order, refunded, return_case, waiting_for_goods
from tests.returns.test_units import _case, _return_node
from tests.shopify_sandbox.helpers import data
from tests.support.cli import InProcess
from worker.cancellation.execution import execute_intent
from worker.cancellation.intents import IntentKind
from worker.db import session_scope
from worker.returns import execution, service
from worker.returns import states as rs
from worker.returns.evidence import parse_evidence
from worker.returns.execution import StepKind, plan
from worker.returns.view import parse_return, read_return

pytestmark = pytest.mark.usefixtures("published")


def _sync(client: ShopifyClient, shop: Shop, return_gid: str) -> None:
    """What the returns/* webhook's task does: read the return on Shopify and follow it."""
    view = read_return(client, return_gid)
    with session_scope() as session:
        service.mirror_return(session, shop.id, view)


def _open_alerts(order_id: int) -> list[Alert]:
    with session_scope() as session:
        found = session.scalars(
            select(Alert).where(Alert.order_id == order_id, Alert.kind == "return_needs_operator",
                                Alert.resolved_at.is_(None))
        ).all()  # fmt: skip
        session.expunge_all()
        return list(found)


def _process_intents(return_id: int) -> list[ShopifyIntent]:
    with session_scope() as session:
        found = session.scalars(
            select(ShopifyIntent).where(
                ShopifyIntent.return_id == return_id, ShopifyIntent.kind == IntentKind.RETURN_PROCESS
            )
        ).all()
        session.expunge_all()
        return list(found)


def _admin_process_with_refund(sandbox: ShopifySandbox, order_gid: str, return_gid: str, amount: str) -> None:
    """A person processes the whole return in Shopify's admin and refunds ``amount`` to the card."""
    lines = data(sandbox, "query($id: ID!) { return(id: $id) { returnLineItems(first: 10) { nodes { id "
                 "quantity } } } }", {"id": return_gid})["return"]["returnLineItems"]["nodes"]  # fmt: skip
    txs = data(sandbox, "query($id: ID!) { order(id: $id) { currencyCode transactions { id kind status } } }",
               {"id": order_gid})["order"]  # fmt: skip
    parent = next(t for t in txs["transactions"] if t["kind"] in ("SALE", "CAPTURE") and t["status"] == "SUCCESS")
    process: dict[str, Any] = {
        "returnId": return_gid,
        "returnLineItems": [{"id": n["id"], "quantity": n["quantity"]} for n in lines],
        "financialTransfer": {"issueRefund": {"orderTransactions": [
            {"parentId": parent["id"], "transactionAmount": {"amount": amount, "currencyCode": txs["currencyCode"]}}
        ]}},
    }  # fmt: skip
    done = data(sandbox, "mutation($input: ReturnProcessInput!) { returnProcess(input: $input) { userErrors { "
                "code message } } }", {"input": process})  # fmt: skip
    assert done["returnProcess"]["userErrors"] == [], done


def _kept_damaged_line(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop) -> tuple[int, int, str, Decimal]:
    """A damaged line the customer keeps, approved by the policy: (return id, order id, order gid, planned)."""
    order_gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    with session_scope() as session:
        line = session.scalars(select(LineItem.id).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
        case = service.request_return(
            session, session.get_one(Order, order_id), reason="damaged", items={str(line): 1},
            evidence=parse_evidence("photos=IMG_1.jpg"), keep_item=True, actor="operator:test",
        )  # fmt: skip
        return case.id, order_id, order_gid, Decimal(str((case.policy_decision or {})["refund_total"]))


# -- a return refunded and closed in the admin while dropsync waited -------------------------------------


def test_plan_hands_a_closed_return_refunded_outside_dropsync_to_a_person() -> None:
    nothing: frozenset[str] = frozenset()
    outside = plan(_case(), parse_return(_return_node("CLOSED", processed=1, refunds=1)), nothing)
    assert outside.what is StepKind.OPERATOR
    assert "Shopify shows the return CLOSED with 1 unit(s) processed and 1 refund(s), 5.00 USD" in outside.why
    assert "did not make" in outside.why
    processed_only = plan(_case(), parse_return(_return_node("CLOSED", processed=1)), nothing)
    assert processed_only.what is StepKind.OPERATOR
    refunded_only = plan(_case(), parse_return(_return_node("CLOSED", refunds=1)), nothing)
    assert refunded_only.what is StepKind.OPERATOR
    # closed with nothing processed: done; processed by dropsync, then closed: done
    assert plan(_case(), parse_return(_return_node("CLOSED")), nothing).what is StepKind.DONE
    ours = parse_return(_return_node("CLOSED", processed=1, refunds=1))
    assert plan(_case(), ours, frozenset({IntentKind.RETURN_PROCESS})).what is StepKind.DONE


@pytest.mark.usefixtures("goods_back")
def test_a_return_refunded_and_closed_in_shopify_admin_goes_to_a_person_not_done_unrefunded(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, cli: InProcess
) -> None:
    """README: "A return someone processed or refunded in Shopify's admin meanwhile goes to a person
    (needs_operator), never refunded a second time." The merchant refunds the customer through the return
    in the admin and closes it (the returns/process webhook was lost or came first; returns/close is read)."""
    return_id, order_id, return_gid, order_gid = waiting_for_goods(sandbox, client, shop)
    _admin_process_with_refund(sandbox, order_gid, return_gid, "5.00")
    closed = data(sandbox, "mutation($id: ID!) { returnClose(id: $id) { userErrors { code } } }", {"id": return_gid})
    assert closed["returnClose"]["userErrors"] == []
    _sync(client, shop, return_gid)
    outcome = execution.run_return(session_scope, return_id, client)
    case = return_case(return_id)
    # never refunded a second time by dropsync: the one applied returnProcess is the admin's
    assert sandbox.control.return_mutation_counts(return_gid)["returnProcess"]["applied"] == 1
    assert Decimal(str(sandbox.control.snapshot(order_gid)["total_refunded"])) == Decimal("5.00")
    assert (outcome, case.state, case.shopify_status) == ("operator", rs.NEEDS_OPERATOR, "CLOSED"), (
        f"the return refunded outside dropsync ended {case.state} with refund_total {case.refund_total}: "
        f"{case.state_history[-1]['why']}"
    )
    assert case.refund_total == 0  # dropsync refunded nothing: it does not claim the admin's refund
    why = case.state_history[-1]["why"]
    assert "Shopify shows the return CLOSED with 1 unit(s) processed and 1 refund(s), 5.00 USD" in why, why
    assert "did not make" in why, why
    assert _process_intents(return_id) == []  # nothing was even planned
    (alert,) = _open_alerts(order_id)
    assert f"return {return_id} needs a person" in alert.message
    # A person resuming it without settling it on Shopify gets it back: never processed, never done unrefunded.
    with session_scope() as session:
        service.resume(session, service.get_return(session, return_id), "operator:test")
    assert execution.run_return(session_scope, return_id, client) == "operator"
    assert return_case(return_id).state == rs.NEEDS_OPERATOR
    assert sandbox.control.return_mutation_counts(return_gid)["returnProcess"]["applied"] == 1
    # The person checked what the customer got and settles it: done, the alert ends, nothing sent.
    code, _, err = cli("returns", "done", str(return_id), "--why", " ")
    assert code == 2
    assert "--why" in err
    code, out, err = cli("returns", "done", str(return_id), "--why", "refunded 5.00 in the admin, closed", "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == rs.DONE
    assert return_case(return_id).state_history[-1]["why"] == "settled by a person: refunded 5.00 in the admin, closed"
    assert _open_alerts(order_id) == []
    assert sandbox.control.return_mutation_counts(return_gid)["returnProcess"]["applied"] == 1
    code, _, err = cli("returns", "done", str(return_id), "--why", "again")
    assert code == 1
    assert "only a return handed to a person can be settled" in err


# -- dropsync's attempt failed, the merchant refunded in the admin, dropsync retries ---------------------


def test_a_refund_made_in_shopify_admin_after_dropsync_s_attempt_failed_is_not_taken_for_dropsync_s(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """dropsync's returnProcess gets a 5xx (nothing ran on Shopify). While its intent waits for the retry, the
    merchant processes the return in the admin, refunding only 1.00. The retry reads the return first: the
    new refund does not carry the intent's key, so it is not dropsync's; nothing is sent; a person looks."""
    return_id, order_id, order_gid, planned = _kept_damaged_line(sandbox, client, shop)
    assert planned > Decimal("1.00")
    sandbox.control.fail_next("error", field="returnProcess")
    first = execution.run_return(session_scope, return_id, client)
    assert first in ("unknown", "retry"), first
    return_gid = return_case(return_id).shopify_gid
    assert return_gid is not None
    assert sandbox.control.return_mutation_counts(return_gid).get("returnProcess", {}).get("applied", 0) == 0

    _admin_process_with_refund(sandbox, order_gid, return_gid, "1.00")  # the merchant, in the admin
    outcome = execution.run_return(session_scope, return_id, client)
    case = return_case(return_id)
    refunded_on_shopify = Decimal(str(sandbox.control.snapshot(order_gid)["total_refunded"]))
    assert refunded_on_shopify == Decimal("1.00")  # dropsync did not refund on top of the merchant
    assert sandbox.control.return_mutation_counts(return_gid)["returnProcess"]["applied"] == 1
    assert (outcome, case.state) == ("failed", rs.NEEDS_OPERATOR), (
        f"{outcome}: the return is {case.state} and says {case.refund_total} was refunded; Shopify refunded "
        f"{refunded_on_shopify} (the merchant's refund, adopted as dropsync's?)"
    )
    assert case.refund_total == 0  # the merchant's 1.00 is not recorded as dropsync's planned amount
    (intent,) = _process_intents(return_id)
    assert intent.state == IntentState.FAILED
    assert intent.result_ids in (None, [])  # nothing adopted
    assert "without dropsync's key" in (intent.last_error or ""), intent.last_error
    assert "did not refund it" in case.state_history[-1]["why"]
    (alert,) = _open_alerts(order_id)
    assert f"return {return_id} needs a person" in alert.message
    # Another pass (the sweeper, a redelivered message) changes nothing.
    assert execution.run_return(session_scope, return_id, client) == "idle"
    assert sandbox.control.return_mutation_counts(return_gid)["returnProcess"]["applied"] == 1


def test_a_return_processed_in_the_admin_between_dropsync_s_plan_and_its_first_send_goes_to_a_person(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker that planned the refund dies before sending it (the intent is committed, never tried: the
    sweeper sends it without reading first). Meanwhile the merchant processes the return in the admin.
    Shopify refuses ours (nothing left to process): the return goes to a person at once, not left stuck."""
    return_id, order_id, order_gid, _ = _kept_damaged_line(sandbox, client, shop)

    def dies_before_the_refund(sessions: Any, intent_id: int, shopify: ShopifyClient, **kw: Any) -> str:
        with session_scope() as session:
            if session.get_one(ShopifyIntent, intent_id).kind == IntentKind.RETURN_PROCESS:
                return IntentState.PENDING
        return execute_intent(sessions, intent_id, shopify, **kw)

    with monkeypatch.context() as patched:
        patched.setattr(execution, "execute_intent", dies_before_the_refund)
        assert execution.run_return(session_scope, return_id, client) == IntentState.PENDING
    return_gid = return_case(return_id).shopify_gid
    assert return_gid is not None
    (intent,) = _process_intents(return_id)
    assert (intent.state, intent.attempts) == (IntentState.PENDING, 0)

    _admin_process_with_refund(sandbox, order_gid, return_gid, "1.00")  # the merchant, in the admin
    assert execution.run_return(session_scope, return_id, client) == IntentState.FAILED
    counts = sandbox.control.return_mutation_counts(return_gid)["returnProcess"]
    assert counts == {"calls": 2, "applied": 1}  # ours was refused; only the merchant's applied
    assert Decimal(str(sandbox.control.snapshot(order_gid)["total_refunded"])) == Decimal("1.00")
    case = return_case(return_id)
    assert (case.state, case.refund_total) == (rs.NEEDS_OPERATOR, Decimal(0))
    (intent,) = _process_intents(return_id)
    assert intent.state == IntentState.FAILED
    assert intent.result_ids in (None, [])  # the merchant's refund is not adopted after the refusal
    assert "exceeds the processable quantity" in (intent.last_error or ""), intent.last_error
    (alert,) = _open_alerts(order_id)
    assert f"return {return_id} needs a person" in alert.message


def test_dropsync_s_own_returnprocess_whose_answer_was_lost_is_adopted_not_sent_again(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """The crash window still holds: Shopify applied dropsync's returnProcess and the answer was lost. The
    retry finds the refund carrying the intent's key, adopts it and closes the return; nothing is resent."""
    return_id, order_id, order_gid, planned = _kept_damaged_line(sandbox, client, shop)
    sandbox.control.fail_next("drop", field="returnProcess")
    first = execution.run_return(session_scope, return_id, client)
    assert first == "unknown", first
    return_gid = return_case(return_id).shopify_gid
    assert return_gid is not None
    assert sandbox.control.return_mutation_counts(return_gid)["returnProcess"]["applied"] == 1

    assert execution.run_return(session_scope, return_id, client) == "done"
    case = return_case(return_id)
    counts = sandbox.control.return_mutation_counts(return_gid)
    assert counts["returnProcess"] == {"calls": 1, "applied": 1}  # adopted, never sent a second time
    assert (case.state, case.refund_total) == (rs.DONE, planned)
    assert Decimal(str(sandbox.control.snapshot(order_gid)["total_refunded"])) == planned
    (intent,) = _process_intents(return_id)
    assert intent.state == IntentState.SUCCEEDED
    assert intent.result_ids is not None
    assert [gid.split("/")[-2] for gid in intent.result_ids] == ["Refund"]  # dropsync's refund, not another
    assert _open_alerts(order_id) == []


def _escalated_customer_request(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop) -> tuple[int, int, str]:
    """A customer's "defective" request with no photos: the policy escalates it, it waits for a person."""
    gid, order_id, _ = fulfilled_order(sandbox, client, shop)
    with session_scope() as session:
        line_gid = session.scalars(
            select(LineItem.shopify_gid).where(LineItem.order_id == order_id).order_by(LineItem.id)
        ).first()
    return_gid = sandbox.control.return_request(gid, [{"line_item_id": line_gid, "quantity": 1, "reason": "DEFECTIVE"}])
    _sync(client, shop, return_gid)
    with session_scope() as session:
        case = session.scalars(select(ReturnCase).where(ReturnCase.shopify_gid == return_gid)).one()
        assert case.state == rs.NEEDS_APPROVAL
        return case.id, order_id, return_gid


def _approval_alerts(return_id: int) -> list[bool]:
    with session_scope() as session:
        found = session.scalars(
            select(Alert).where(Alert.dedupe_key.startswith(f"returns:needs_approval:{return_id}:"))
        )
        return [alert.resolved_at is None for alert in found]


def test_a_request_approved_in_shopify_admin_while_it_waited_for_approval_is_carried_on_once(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    return_id, order_id, return_gid = _escalated_customer_request(sandbox, client, shop)
    assert _approval_alerts(return_id) == [True]
    approved = data(sandbox, "mutation($input: ReturnApproveRequestInput!) { returnApproveRequest(input: $input) "
                    "{ userErrors { code } } }", {"input": {"id": return_gid}})  # fmt: skip
    assert approved["returnApproveRequest"]["userErrors"] == []
    _sync(client, shop, return_gid)  # the returns/approve webhook
    assert return_case(return_id).state == rs.SHOPIFY_ACTION
    assert _approval_alerts(return_id) == [False]  # nobody is asked any more
    assert execution.run_return(session_scope, return_id, client) == "done"
    counts = sandbox.control.return_mutation_counts(return_gid)
    assert counts["returnProcess"]["applied"] == 1
    assert "returnApproveRequest" not in {k for k, v in counts.items() if v["calls"] > 1}
    assert refunded(order_id) == return_case(return_id).refund_total > 0


def test_a_request_declined_in_shopify_admin_while_it_waited_for_approval_ends_declined(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    return_id, order_id, return_gid = _escalated_customer_request(sandbox, client, shop)
    declined = data(sandbox, "mutation($input: ReturnDeclineRequestInput!) { returnDeclineRequest(input: $input) "
                    "{ userErrors { code } } }", {"input": {"id": return_gid, "declineReason": "OTHER",
                                                           "declineNote": "worn, not defective"}})  # fmt: skip
    assert declined["returnDeclineRequest"]["userErrors"] == []
    _sync(client, shop, return_gid)
    assert execution.run_return(session_scope, return_id, client) == "declined"
    case = return_case(return_id)
    assert (case.state, case.verdict, case.decline_note) == (rs.DECLINED, "decline", "worn, not defective")
    assert _approval_alerts(return_id) == [False]
    assert refunded(order_id) == 0


def test_a_return_intent_a_person_resolves_or_retries_takes_its_return_with_it(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, cli: InProcess
) -> None:
    """``dropsync intents resolve N --as failed`` on a return's intent (the person saw nothing happen): the
    return is theirs (needs_operator, an alert), not planned again behind their back by the sweeper;
    ``dropsync intents retry N`` takes it back and the refund goes ahead, once."""
    return_id, order_id, order_gid, planned = _kept_damaged_line(sandbox, client, shop)
    sandbox.control.fail_next("error", field="returnProcess")
    assert execution.run_return(session_scope, return_id, client) in ("unknown", "retry")
    (intent,) = _process_intents(return_id)
    code, _, err = cli("intents", "resolve", str(intent.id), "--as", "failed", "--note", "nothing in the admin")
    assert code == 0, err
    assert return_case(return_id).state == rs.NEEDS_OPERATOR
    (alert,) = _open_alerts(order_id)
    assert f"return {return_id} needs a person" in alert.message
    assert execution.run_return(session_scope, return_id, client) == "idle"  # nothing behind their back
    code, _, err = cli("intents", "retry", str(intent.id))
    assert code == 0, err
    assert return_case(return_id).state == rs.SHOPIFY_ACTION
    assert _open_alerts(order_id) == []
    assert execution.run_return(session_scope, return_id, client) == "done"
    assert Decimal(str(sandbox.control.snapshot(order_gid)["total_refunded"])) == planned
    return_gid = return_case(return_id).shopify_gid
    assert return_gid is not None
    assert sandbox.control.return_mutation_counts(return_gid)["returnProcess"]["applied"] == 1
