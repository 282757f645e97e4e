"""Cancellation requests: create (the policy decides first), withdraw, approve, and follow the supplier.

Services flush, never commit: the CLI command, the task or the webhook drain owns the transaction.
Reaching ``shopify_action`` enqueues ``cancellation.advance`` through the outbox (published after the
commit), which re-reads Shopify and performs the action (``worker.cancellation.execution``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import CancellationRequest, Order, SupplierOrder, SupplierOrderItem
from models.cancellation import OPEN_REQUEST_INDEX
from models.types import utcnow
from worker import outbox
from worker.alerts import AlertSpec, keep_alerts
from worker.cancellation import states as s
from worker.cancellation.errors import OrderAlreadyCancelled, RequestAlreadyOpen, RequestNotFound
from worker.db import savepoint
from worker.deadlines.rules import refused
from worker.policy import Action, Decision, Evidence, Reason, RequestKind
from worker.policy.adapters import check_order
from worker.policy.model import Policy
from worker.policy.startup import configured_policy
from worker.returns.evidence import EvidenceItem, attach, kinds, of_cancellation
from worker.timeline import record_event

ADVANCE_TASK = "cancellation.advance"
#: ``CancellationRequest.source`` of a request the merchant made in Shopify to the fulfillment service.
FULFILLMENT_SERVICE = "fulfillment_service"
EXECUTE_TASK = "cancellation.execute_intent"

#: Supplier states meaning the goods left the seller: no cancellation any more, only a return.
SHIPPED = frozenset({st.PARTLY_SHIPPED, st.SHIPPED, st.DELIVERED, st.CLOSED_COMPLETED})
#: Nothing was paid to the seller, or it was given back: the Shopify side can act directly.
NOTHING_AT_STAKE = frozenset({st.AWAITING_PAYMENT})
#: Supplier orders nobody needs to ask the seller to cancel (any more).
ASKED_OR_NOTHING_PAID = NOTHING_AT_STAKE | {st.CANCELLATION_REQUESTED, st.CLOSED_CANCELLED}


def open_request(session: Session, order_id: int) -> CancellationRequest | None:
    query = select(CancellationRequest).where(
        CancellationRequest.order_id == order_id, CancellationRequest.state.in_(s.OPEN)
    )
    return session.scalars(query.order_by(CancellationRequest.id.desc())).first()


def get_request(session: Session, request_id: int, *, lock: bool = False) -> CancellationRequest:
    query = select(CancellationRequest).where(CancellationRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    request = session.scalar(query)
    if request is None:
        raise RequestNotFound(f"unknown cancellation request {request_id}")
    return request


def decide(
    session: Session, order: Order, reason: Reason, items: Mapping[str, int], policy: Policy, now: dt.datetime,
    kind: RequestKind | None = None, evidence: Iterable[Evidence] = (),
) -> Decision:  # fmt: skip
    """The policy's decision on the ledger order (called for every decision, stored with its version)."""
    return check_order(session, order, policy=policy, reason=reason, now=now, items=items, kind=kind, evidence=evidence)


def create_request(
    session: Session,
    order: Order,
    *,
    reason: str,
    items: Mapping[str, int] | None = None,
    actor: str,
    source: str = "operator",
    note: str | None = None,
    policy: Policy | None = None,
    now: dt.datetime | None = None,
    evidence: Iterable[EvidenceItem] = (),
) -> CancellationRequest:
    """Record a request and the policy's decision; then follow the supplier (maybe straight to Shopify).

    Refused: the order is already cancelled, or already has an open request. A denial is stored (state
    ``denied``, with the reasons) and returned: the caller shows it. An escalation waits for approval.
    """
    if order.cancelled_at is not None:
        raise OrderAlreadyCancelled(f"{order.name} is already cancelled on Shopify")
    existing = open_request(session, order.id)
    if existing is not None:
        raise RequestAlreadyOpen(f"{order.name} already has cancellation request {existing.id} ({existing.state})")
    now = now or utcnow()
    policy = policy or configured_policy()
    evidence = list(evidence)
    decision = decide(session, order, Reason(reason), items or {}, policy, now, evidence=kinds(evidence))
    request = CancellationRequest(
        shop_id=order.shop_id, order_id=order.id, kind=decision.kind.value,
        items=[{"line_id": k, "quantity": v} for k, v in sorted((items or {}).items())], reason=reason, note=note,
        state=s.REQUESTED, state_history=[], policy_decision=decision.to_dict(), policy_version=policy.version,
        source=source, requested_by=actor,
    )  # fmt: skip
    _insert_open_request(session, order, request)
    attach(session, order.id, evidence, actor, cancellation_request_id=request.id)
    record_event(
        session, shop_id=order.shop_id, order_id=order.id, kind="cancellation.requested", actor=actor,
        message=f"cancellation request {request.id} ({reason}): policy {policy.version[:12]} says "
        f"{decision.action.value}, refund {decision.refund_total} {decision.currency}",
        data={"request_id": request.id, "action": decision.action.value, "refund_total": str(decision.refund_total),
              "policy_version": policy.version, "reasons": list(decision.reasons)},
    )  # fmt: skip
    why = "; ".join(decision.reasons)
    if decision.action is Action.DENY or (not decision.allowed and decision.action is not Action.ESCALATE):
        _start_in(session, request, s.DENIED, now, why or "denied by the policy")
    elif decision.action is Action.ESCALATE:
        _start_in(session, request, s.NEEDS_APPROVAL, now, why or "escalated by the policy")
    else:
        follow_supplier(session, request, actor=actor)
    return request


def _insert_open_request(session: Session, order: Order, request: CancellationRequest) -> None:
    """Insert ``request``; another transaction that opened one for the same order since our check (two
    operators, a webhook and an operator) makes the partial unique index refuse it: the same refusal."""
    name = order.name  # read now: on SQLite (no savepoint) the failed flush leaves the session unusable
    try:
        with savepoint(session):  # PostgreSQL: the caller's transaction survives the refusal
            session.add(request)
            session.flush()
    except IntegrityError as exc:
        if OPEN_REQUEST_INDEX not in str(exc.orig) and "cancellation_requests.order_id" not in str(exc.orig):
            raise
        raise RequestAlreadyOpen(f"{name} already has an open cancellation request (opened meanwhile)") from None


def _start_in(session: Session, request: CancellationRequest, state: str, now: dt.datetime, why: str) -> None:
    """A request the policy did not let start: ``denied`` (final) or ``needs_approval``."""
    request.state = state
    request.state_history = [{"from": None, "to": state, "at": now.isoformat(), "actor": "policy", "why": why}]
    if state == s.DENIED:
        request.completed_at = now
    session.flush()
    record_event(
        session, shop_id=request.shop_id, order_id=request.order_id, kind=f"cancellation.{state}", actor="policy",
        message=f"cancellation request {request.id}: {s.LABELS[state]} ({why})",
        data={"request_id": request.id, "to": state},
    )  # fmt: skip
    s.hand_over_alerts(session, request, None, state, why, "policy")


#: The history's ``why`` of a person's approval (``cancel status`` names who approved from it).
APPROVED = "approved by a person"


def approve(session: Session, request: CancellationRequest, actor: str) -> None:
    """A person approves an escalated request: it proceeds with the amounts the rules computed."""
    s.move(session, request, s.REQUESTED, actor=actor, why=APPROVED)
    follow_supplier(session, request, actor=actor)


def resume(session: Session, request: CancellationRequest, actor: str) -> None:
    """A person fixed what the Shopify action needed (``needs_operator``): plan again from Shopify."""
    s.move(session, request, s.SHOPIFY_ACTION, actor=actor, why="resumed by a person")
    enqueue_advance(session, request)


def deny(session: Session, request: CancellationRequest, actor: str, why: str) -> None:
    s.move(session, request, s.DENIED, actor=actor, why=why or "denied by a person")


def withdraw(session: Session, request: CancellationRequest, actor: str, why: str | None = None) -> None:
    """Allowed until the Shopify action starts (``ImpossibleTransition`` after)."""
    s.move(session, request, s.WITHDRAWN, actor=actor, why=why or "withdrawn")


def relevant_supplier_orders(session: Session, request: CancellationRequest) -> list[SupplierOrder]:
    """The supplier orders supplying the requested lines (all of the order's for a whole-order request)."""
    orders = list(
        session.scalars(
            select(SupplierOrder).where(SupplierOrder.order_id == request.order_id).order_by(SupplierOrder.id)
        )
    )
    wanted = {int(i["line_id"]) for i in request.items if str(i.get("line_id", "")).isdigit()}
    if not wanted:
        return orders
    covering = set(
        session.scalars(select(SupplierOrderItem.supplier_order_id).where(SupplierOrderItem.line_item_id.in_(wanted)))
    )
    return [so for so in orders if so.id in covering or not so.items]


def supplier_stage(orders: list[SupplierOrder]) -> str:
    """Where the supplier side stands for a request: ``direct`` (nothing paid: act on Shopify now),
    ``confirmed`` (every paid supplier order closed cancelled), ``shipped``, ``requested`` (a
    cancellation is pending with a seller) or ``waiting`` (paid, not shipped, nobody asked yet)."""
    statuses = [so.status for so in orders]
    if any(x in SHIPPED for x in statuses):
        return "shipped"
    if all(x in NOTHING_AT_STAKE for x in statuses):
        return "direct"
    if all(x in NOTHING_AT_STAKE or x == st.CLOSED_CANCELLED for x in statuses):
        return "confirmed"
    if any(x == st.CANCELLATION_REQUESTED for x in statuses):
        return "requested"
    return "waiting"


def follow_supplier(session: Session, request: CancellationRequest, *, actor: str, refused: bool = False) -> None:
    """Move the request to where its supplier orders stand (a no-op when it already is there)."""
    if request.state not in (s.REQUESTED, s.SUPPLIER_CANCEL_REQUESTED, s.SUPPLIER_REFUSED):
        return
    stage = supplier_stage(relevant_supplier_orders(session, request))
    if stage == "direct":
        start_shopify_action(session, request, actor=actor, why="no supplier payment at stake: cancel directly")
    elif stage == "confirmed":
        s.move(session, request, s.SUPPLIER_CONFIRMED, actor=actor, why="the supplier order is closed cancelled")
        start_shopify_action(session, request, actor=actor, why="supplier cancellation confirmed")
    elif stage == "shipped":
        s.move(session, request, s.SUPPLIER_SHIPPED, actor=actor, why="the seller shipped")
        convert_to_return(session, request, actor=actor)
    elif stage == "requested" and request.state != s.SUPPLIER_CANCEL_REQUESTED:
        s.move(session, request, s.SUPPLIER_CANCEL_REQUESTED, actor=actor, why="cancellation asked from the seller")
    elif refused and request.state == s.SUPPLIER_CANCEL_REQUESTED:
        s.move(session, request, s.SUPPLIER_REFUSED, actor=actor,
               why="the seller refused; open a dispute if no tracking arrives by the deadline")  # fmt: skip
    ask_the_seller(session, request)


def ask_the_seller(session: Session, request: CancellationRequest) -> int:
    """Every paid seller of a request in the supplier stages that nobody has asked yet is in front of a
    person: AliExpress has no cancellation API, so only someone on its website can ask, and nothing
    scheduled does it while the seller's handling time runs out. That includes a second seller of the
    order once the first was asked (the request is then ``supplier_cancel_requested``). One alert per
    seller (``cancellation:ask_seller:{request}:{supplier order}``), resolved here when it no longer needs
    asking and by ``states.hand_over_alerts`` when the request moves on. How many raised now.
    """
    if request.state not in s.SUPPLIER_STAGES:
        return 0
    to_ask = [
        so for so in relevant_supplier_orders(session, request)
        if so.status not in ASKED_OR_NOTHING_PAID and so.status not in SHIPPED and not refused(so)
    ]  # fmt: skip
    specs = []
    for so in to_ask:
        due = so.handling_deadline
        by = f" (the seller ships by {due:%Y-%m-%d %H:%M} UTC)" if due else ""
        message = (
            f"cancellation request {request.id} waits for a person: ask the seller of AliExpress order "
            f"{so.supplier_order_id} to cancel on the AliExpress website before it ships{by}, then record it"
        )
        specs.append(AlertSpec(
            request.shop_id, request.order_id, so.id, "cancellation_ask_seller", "warning", message, due,
            f"{s.ask_seller_prefix(request.id)}{so.id}", f"order {request.order_id}",
            f"dropsync supplier cancel-requested {so.supplier_order_id}",
        ))  # fmt: skip
    return keep_alerts(
        session, s.ask_seller_prefix(request.id), specs, actor="cancellation",
        gone="the seller was asked, shipped or closed",
    )  # fmt: skip


def start_shopify_action(session: Session, request: CancellationRequest, *, actor: str, why: str) -> None:
    """Enter ``shopify_action`` and enqueue ``cancellation.advance`` (published after the commit)."""
    s.move(session, request, s.SHOPIFY_ACTION, actor=actor, why=why)
    enqueue_advance(session, request)


def enqueue_advance(session: Session, request: CancellationRequest, tag: str | None = None) -> None:
    key = f"cancellation.advance:{request.id}:{tag or len(request.state_history)}"
    outbox.enqueue(session, ADVANCE_TASK, [request.id], dedupe_key=key)


def convert_to_return(session: Session, request: CancellationRequest, *, actor: str) -> None:
    """The goods shipped: the customer's wish is now a return, decided again by the policy."""
    order = session.get(Order, request.order_id)
    assert order is not None
    policy = configured_policy()
    items = {str(i["line_id"]): int(i["quantity"]) for i in request.items}
    decision = decide(
        session, order, Reason(request.reason), items, policy, utcnow(), kind=RequestKind.RETURN,
        evidence=of_cancellation(session, request.id),
    )  # fmt: skip
    request.kind = RequestKind.RETURN.value
    request.policy_decision = decision.to_dict()
    request.policy_version = policy.version
    data: dict[str, Any] = {"return_decision": decision.action.value, "refund_total": str(decision.refund_total)}
    s.move(session, request, s.CONVERTED_TO_RETURN, actor=actor,
           why=f"shipped: handled as a return ({decision.action.value}) under the policy", data=data)  # fmt: skip
    # The request ends here; the customer's wish continues as a return (refund or denial, on the timeline).
    from worker.returns.service import from_cancellation

    from_cancellation(session, request, actor=actor)


def requests_for_order(session: Session, order_id: int) -> list[CancellationRequest]:
    return list(
        session.scalars(
            select(CancellationRequest).where(CancellationRequest.order_id == order_id).order_by(CancellationRequest.id)
        )
    )
