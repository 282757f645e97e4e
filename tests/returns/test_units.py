"""The pure parts: Shopify ↔ policy vocabulary, the plan over a return's Shopify state, the state machine,
evidence parsing, the carrier's delivery status, the dispute-window deadline."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from integrations.aliexpress import status as st
from models import ReturnCase, SupplierOrder
from tests.policy.factories import order, ret
from worker.cancellation.intents import IntentKind
from worker.deadlines.rules import DISPUTE_WINDOW, DeadlinePolicy, findings
from worker.errors import UsageError
from worker.policy import DEFAULT_POLICY, Evidence, Reason, evaluate
from worker.returns import mapping
from worker.returns import states as rs
from worker.returns.evidence import parse_evidence
from worker.returns.execution import plan
from worker.returns.view import parse_return

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("shopify", "policy"),
    [
        ("SIZE_TOO_SMALL", Reason.WRONG_SIZE), ("SIZE_TOO_LARGE", Reason.WRONG_SIZE), ("UNWANTED", Reason.CHANGED_MIND),
        ("STYLE", Reason.CHANGED_MIND), ("COLOR", Reason.CHANGED_MIND), ("DEFECTIVE", Reason.DEFECTIVE),
        ("NOT_AS_DESCRIBED", Reason.NOT_AS_DESCRIBED), ("WRONG_ITEM", Reason.WRONG_ITEM), ("OTHER", Reason.OTHER),
        ("UNKNOWN", Reason.OTHER), ("SOMETHING_NEW", Reason.OTHER),
    ],
)  # fmt: skip
def test_shopify_reasons_map_onto_the_policys(shopify: str, policy: Reason) -> None:
    assert mapping.policy_reason([shopify]) is policy


def test_lines_that_disagree_are_decided_as_other_and_handles_are_read_like_enums() -> None:
    assert mapping.policy_reason(["DEFECTIVE", "UNWANTED"]) is Reason.OTHER
    node = _return_node("OPEN", handle="size-too-small")
    assert parse_return(node).lines[0].reason == "SIZE_TOO_SMALL"


def _return_node(status: str, *, processed: int = 0, refunds: int = 0, handle: str = "defective") -> dict[str, Any]:
    return {
        "id": "gid://shopify/Return/1", "name": "#1001-R1", "status": status, "order": {"id": "gid://shopify/Order/1"},
        "returnLineItems": {"nodes": [{
            "id": "gid://shopify/ReturnLineItem/1", "quantity": 1, "processedQuantity": processed,
            "returnReasonDefinition": {"handle": handle}, "fulfillmentLineItem": {
                "id": "gid://shopify/FulfillmentLineItem/1", "lineItem": {"id": "gid://shopify/LineItem/1"}},
        }]},
        "refunds": {"nodes": [{"id": f"gid://shopify/Refund/{i}", "note": None,
                               "totalRefundedSet": {"shopMoney": {"amount": "5.00"}}} for i in range(refunds)]},
    }  # fmt: skip


def _case(verdict: str | None = "approve", *, return_required: bool = False, keep: bool = False) -> ReturnCase:
    decision = evaluate(DEFAULT_POLICY, ret(Reason.DEFECTIVE), order(), [], NOW)
    decision = dataclasses.replace(decision, return_required=return_required)
    return ReturnCase(
        verdict=verdict, keep_item=keep, policy_decision=decision.to_dict(),
        refund_total=Decimal(0), currency="USD", state=rs.SHOPIFY_ACTION,
    )  # fmt: skip


def test_plan_follows_the_return_as_shopify_shows_it() -> None:
    nothing: frozenset[str] = frozenset()
    assert plan(_case(), None, nothing).kind == IntentKind.RETURN_CREATE
    assert plan(_case(), None, frozenset({IntentKind.RETURN_CREATE})).what == "operator"  # never a second returnCreate
    assert plan(_case(), parse_return(_return_node("REQUESTED")), nothing).kind == IntentKind.RETURN_APPROVE
    assert plan(_case("decline"), parse_return(_return_node("REQUESTED")), nothing).kind == IntentKind.RETURN_DECLINE
    assert plan(_case("decline"), parse_return(_return_node("DECLINED")), nothing).what == "declined"
    assert plan(_case(), parse_return(_return_node("OPEN")), nothing).kind == IntentKind.RETURN_PROCESS
    refunded = parse_return(_return_node("OPEN", processed=1, refunds=1))
    assert plan(_case(), refunded, frozenset({IntentKind.RETURN_PROCESS})).kind == IntentKind.RETURN_CLOSE
    assert plan(_case(), parse_return(_return_node("CLOSED")), frozenset({IntentKind.RETURN_PROCESS})).what == "done"
    assert plan(_case(), parse_return(_return_node("CANCELED")), nothing).what == "canceled"


def test_plan_never_refunds_a_return_someone_else_already_refunded() -> None:
    seen = parse_return(_return_node("OPEN", processed=1, refunds=1))
    assert plan(_case(), seen, frozenset()).what == "operator"


def test_goods_that_must_come_back_are_waited_for_unless_kept() -> None:
    open_ = parse_return(_return_node("OPEN"))
    assert plan(_case(return_required=True), open_, frozenset()).what == "awaiting_goods"
    assert plan(_case(return_required=True, keep=True), open_, frozenset()).kind == IntentKind.RETURN_PROCESS
    received = _case(return_required=True)
    received.goods_received_at = NOW
    assert plan(received, open_, frozenset()).kind == IntentKind.RETURN_PROCESS


def test_the_state_machine_refuses_impossible_moves() -> None:
    assert rs.DONE not in rs.TRANSITIONS[rs.NEEDS_APPROVAL]
    for final in rs.TERMINAL:
        assert rs.TRANSITIONS[final] == frozenset()
    case = _case()
    case.id, case.state, case.state_history = 7, rs.DONE, []
    with pytest.raises(rs.ImpossibleReturnTransition, match="return 7 is done"):
        rs.move(None, case, rs.SHOPIFY_ACTION, actor="t", why="t")  # type: ignore[arg-type]


def test_evidence_parsing() -> None:
    items = parse_evidence(" photos=IMG_1.jpg, video ,photos")
    assert [(i.kind, i.reference) for i in items] == [(Evidence.PHOTOS, None), (Evidence.VIDEO, None)]
    assert parse_evidence(None) == []
    with pytest.raises(UsageError, match="unknown kind 'selfie'"):
        parse_evidence("selfie")


def test_decline_reason_from_the_rule_that_denied() -> None:
    from worker.policy.decision import Action, Decision
    from worker.policy.inputs import RequestKind
    from worker.policy.model import RefundMethod

    def denied(*reasons: str) -> Decision:
        return Decision(
            allowed=False, action=Action.DENY, kind=RequestKind.RETURN, reason=Reason.CHANGED_MIND, currency="USD",
            lines=(), shipping_amount=Decimal(0), restocking_fee=Decimal(0), refund_total=Decimal(0),
            refund_method=RefundMethod.ORIGINAL, notify_customer=False, return_required=False,
            return_shipping_paid_by=None, shopify_cancel_reason=None, expected_supplier_recovery=Decimal(0),
            supplier_recoveries=(), store_exposure=Decimal(0), reasons=reasons, policy_version="v", evaluated_at=NOW,
        )  # fmt: skip

    assert mapping.decline_reason(denied("The return window is 15 days from delivery; …")) == "RETURN_PERIOD_ENDED"
    assert mapping.decline_reason(denied("All sales are final except for: damaged.")) == "FINAL_SALE"
    assert mapping.decline_reason(denied("Returns for 'changed mind' are not accepted.")) == "OTHER"
    assert len(mapping.decline_note(denied("x" * 900))) == mapping.DECLINE_NOTE_LIMIT


def test_the_carriers_delivery_scan_reads_as_delivered_while_the_order_stays_open() -> None:
    reading = st.map_status("WAIT_BUYER_ACCEPT_GOODS", None, "DELIVERED")
    assert (reading.state, reading.known) == (st.DELIVERED, True)
    assert st.map_status("WAIT_BUYER_ACCEPT_GOODS", None, "SELLER_SEND_GOODS").state == st.SHIPPED
    assert st.map_status("FINISH", "seller_accept_issue_goods_return").state == st.CLOSED_CANCELLED


def test_the_dispute_window_needs_a_person_from_the_refund_until_a_dispute_is_recorded() -> None:
    so = SupplierOrder(status=st.CLOSED_COMPLETED, dispute_window_ends_at=NOW + dt.timedelta(days=10), disputes=[])
    (finding,) = [f for f in findings(so, NOW, DeadlinePolicy()) if f.kind == DISPUTE_WINDOW]
    assert (finding.stage, finding.severity) == ("near", "critical")
    (late,) = [f for f in findings(so, NOW + dt.timedelta(days=11), DeadlinePolicy()) if f.kind == DISPUTE_WINDOW]
    assert late.stage == "passed"
    so.status = st.CLOSED_CANCELLED
    assert not [f for f in findings(so, NOW, DeadlinePolicy()) if f.kind == DISPUTE_WINDOW]
