"""Carrying a return out on Shopify, exactly once, across crashes and lost answers.

Same discipline as the cancellation (``worker.cancellation.execution``), same executor and intents:

1. re-read the return on Shopify (``ReturnById``) and choose the next step from its *current* state and
   the stored verdict (:func:`plan`): approve or decline a REQUESTED return, create the operator's
   return, wait for the goods, process (refund) an OPEN one, close it, or finish;
2. compute the step's complete input outside any transaction (the fulfillment line items for a
   ``returnCreate``; the refund's parent transactions from ``suggestedRefund`` for a ``returnProcess``,
   capped at the policy's amount and at what is still refundable) and commit a ``pending`` intent with it,
   under the return's row lock, refusing a second live intent and a step that already succeeded;
3. execute it with ``worker.cancellation.execution.execute_intent`` (claim, read first when an earlier
   attempt may have run, perform, record; failpoints ``after_claim``, ``after_mutation``, ``after_commit``).

Money rules: at most one ``return_process`` intent succeeds per return; a return, open or closed, that shows
a refund or processed units dropsync did not record, or whose order shows a refund since the return was
requested that dropsync did not make and that could have paid for its lines (``worker.returns.outside``: the
admin's Refund button, outside the return), is handed to a person, never processed again nor recorded done
with nothing refunded; the refund moves at most the policy's ``refund_total`` and never more
than the order's refundable balance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeGuard

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import ShopifyError
from integrations.shopify.order import ShopifyRefund
from models import IntentState, Order, ReturnCase, ShopifyIntent
from models.cancellation import LIVE_INTENT_STATES
from models.types import utcnow
from worker.cancellation import actions as cancellation_actions
from worker.cancellation import intents as ik
from worker.cancellation.execution import SWEEPER_GRACE_SECONDS, execute_intent
from worker.cancellation.intents import IntentKind
from worker.cancellation.shopify_view import read_order
from worker.db import UnitOfWork
from worker.policy.decision import Decision
from worker.returns import outside, recovery
from worker.returns import states as rs
from worker.returns.handover import to_operator
from worker.returns.service import line_gids
from worker.returns.view import ReturnView, read_return, read_returnables
from worker.timeline import entered_at, planning_failed

MAX_STEPS = 8


class StepKind(StrEnum):
    INTENT = "intent"  # perform ``Step.kind``
    DONE = "done"
    DECLINED = "declined"
    CANCELED = "canceled"
    AWAITING_GOODS = "awaiting_goods"
    OPERATOR = "operator"  # a person decides


@dataclass(frozen=True)
class Step:
    """``intent`` (with ``kind``), a final or waiting state to move to, or ``operator``."""

    what: StepKind
    kind: IntentKind | None = None
    why: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def needs_goods(case: ReturnCase) -> bool:
    """The goods must come back before the refund: the policy requires it and the customer keeps nothing."""
    decision = Decision.stored(case.policy_decision)
    return decision is not None and decision.return_required and not case.keep_item


def plan(
    case: ReturnCase, view: ReturnView | None, done_kinds: frozenset[str], order_refunds: Sequence[ShopifyRefund] = ()
) -> Step:
    """The next step from Shopify's return as it is now, what already succeeded and the order's refunds that
    could have paid for the return outside it and outside dropsync (``outside.refunds_for_return``) (pure)."""
    if view is None:
        if case.verdict == "approve" and IntentKind.RETURN_CREATE not in done_kinds:
            return Step(StepKind.INTENT, IntentKind.RETURN_CREATE, why="create the return on Shopify")
        return Step(StepKind.OPERATOR, why="the return does not exist on Shopify")
    if view.status == "CANCELED":
        return Step(StepKind.CANCELED, why="canceled on Shopify")
    if view.status == "DECLINED":
        if case.verdict == "decline":
            return Step(StepKind.DECLINED, why=f"declined on Shopify ({view.decline_reason})")
        return Step(StepKind.OPERATOR, why="Shopify shows the return declined although dropsync approved it")
    if view.status == "REQUESTED":
        kind = IntentKind.RETURN_APPROVE if case.verdict == "approve" else IntentKind.RETURN_DECLINE
        return Step(StepKind.INTENT, kind, why=f"{case.verdict} the customer's request")
    if case.verdict == "decline":
        return Step(StepKind.OPERATOR, why=f"Shopify shows the return {view.status} although dropsync declined it")
    processed = IntentKind.RETURN_PROCESS in done_kinds
    if not processed and (view.processed_units > 0 or view.refunds):
        # Someone processed or refunded this return outside dropsync, whether it is still open or closed
        # since: never refund it a second time, and never record it done with nothing refunded (the
        # customer was paid, the supplier's share is still to recover): a person looks.
        return Step(StepKind.OPERATOR, why=_outside_dropsync(view, case.currency))
    if not processed and order_refunds:
        # Refunded from the order (the admin's Refund button), not through the return: Shopify would let
        # returnProcess refund the line again while it has units left refundable. Never a second refund.
        return Step(StepKind.OPERATOR, why=_refunded_on_order(case, view, order_refunds))
    if view.status == "CLOSED":
        return Step(StepKind.DONE, why="closed on Shopify" + ("" if processed else " (nothing processed by dropsync)"))
    if processed:
        return Step(StepKind.INTENT, IntentKind.RETURN_CLOSE, why="refund made: close the return")
    if needs_goods(case) and case.goods_received_at is None:
        return Step(StepKind.AWAITING_GOODS, why="the goods must come back first (dropsync returns received)")
    return Step(StepKind.INTENT, IntentKind.RETURN_PROCESS,
                why=f"refund {case.refund_total} {case.currency} through returnProcess")  # fmt: skip


def _outside_dropsync(view: ReturnView, currency: str) -> str:
    """Why a return processed or refunded by someone else goes to a person."""
    refunded = f"{len(view.refunds)} refund(s), {view.refunded_amount} {currency}," if view.refunds else "no refund"
    return (
        f"Shopify shows the return {view.status} with {view.processed_units} unit(s) processed and {refunded} "
        "that dropsync did not make (processed or refunded in Shopify's admin?): check what the customer got; "
        "dropsync will not refund it"
    )


def _refunded_on_order(case: ReturnCase, view: ReturnView, refunds: Sequence[ShopifyRefund]) -> str:
    """Why a return whose units may have been refunded on the order outside it goes to a person."""
    gids = {line.line_item_gid for line in view.lines if line.line_item_gid}
    return (
        f"the order was refunded {outside.total(refunds)} {case.currency} since return {view.name or view.gid} "
        f"was requested, outside the return and not by dropsync (Shopify's admin?): "
        f"{outside.describe(refunds, gids, case.currency)}. dropsync will not refund the return: check what the "
        "customer got; if that refund paid for the returned units, close the return on Shopify (nothing more to "
        f"refund); if it paid for something else, refund the return in Shopify's admin. Then `dropsync returns "
        f"done {case.id} --why …`"
    )


# -- running a return ---------------------------------------------------------------------------------


def run_return(sessions: UnitOfWork, return_id: int, client: ShopifyClient, *, reclaim_stale: bool = False) -> str:
    """Advance a return in ``shopify_action`` until it is finished, waits, or needs a person. Idempotent."""
    outcome = "idle"
    for _ in range(MAX_STEPS):
        outcome = _one_step(sessions, return_id, client, reclaim_stale)
        if outcome != "progress":
            return outcome
    return outcome


def _live_intent_of(session: Session, return_id: int) -> int | None:
    return session.scalar(
        select(ShopifyIntent.id).where(
            ShopifyIntent.return_id == return_id, ShopifyIntent.state.in_(LIVE_INTENT_STATES)
        )
    )


def _succeeded(session: Session, return_id: int) -> list[ShopifyIntent]:
    query = select(ShopifyIntent).where(
        ShopifyIntent.return_id == return_id, ShopifyIntent.state == IntentState.SUCCEEDED
    )
    return list(session.scalars(query.order_by(ShopifyIntent.id)))


def _adopt_created(session: Session, case: ReturnCase) -> None:
    """A succeeded returnCreate whose id was not copied yet (crash after its commit): copy it now."""
    if case.shopify_gid is not None:
        return
    succeeded = _succeeded(session, case.id)
    created = next((i for i in succeeded if i.kind == IntentKind.RETURN_CREATE and i.result_ids), None)
    if created is not None:
        case.shopify_gid = created.result_ids[0]
        session.flush()


def _one_step(sessions: UnitOfWork, return_id: int, client: ShopifyClient, reclaim_stale: bool) -> str:
    with sessions() as session:
        case = session.get(ReturnCase, return_id)
        if case is None or case.state != rs.SHOPIFY_ACTION:
            return "idle"
        live = _live_intent_of(session, return_id)
        _adopt_created(session, case)
        gid = case.shopify_gid
        processed = any(i.kind == IntentKind.RETURN_PROCESS for i in _succeeded(session, return_id))
    if live is not None:
        state = execute_intent(sessions, live, client, reclaim_stale=reclaim_stale)
        return "progress" if state == IntentState.SUCCEEDED else state
    try:
        view = read_return(client, gid) if gid else None
        refunds = () if processed or not _may_refund(view) else outside.read_order_refunds(client, view.order_gid)
    except ShopifyError as exc:
        return _planning_failed(sessions, return_id, exc)
    with sessions() as session:
        case = session.get_one(ReturnCase, return_id, with_for_update=True)
        if case.state != rs.SHOPIFY_ACTION:
            return "idle"
        if (live := _live_intent_of(session, return_id)) is None:
            done = frozenset(i.kind for i in _succeeded(session, return_id))
            step = plan(case, view, done, _refunds_for(session, case, view, refunds))
            if step.what is not StepKind.INTENT:
                return _settle(session, case, step, view)
            order_gid = session.get_one(Order, case.order_id).shopify_gid
            lines, snapshot = line_gids(session, case), case_snapshot(case)
    if live is None:
        try:
            params = _params(client, snapshot, step, order_gid, view, lines)
        except ShopifyError as exc:
            return _planning_failed(sessions, return_id, exc)
        except NotReturnable as exc:
            return _planning_failed(sessions, return_id, exc, final=True)
        live = _commit_planned(sessions, return_id, step, params)
        if live is None:
            return "progress"
    state = execute_intent(sessions, live, client, reclaim_stale=reclaim_stale)
    return "progress" if state == IntentState.SUCCEEDED else state


def _may_refund(view: ReturnView | None) -> TypeGuard[ReturnView]:
    """Whether the plan may refund or finish the return, so must see the order's refunds first."""
    return view is not None and view.status in ("OPEN", "CLOSED") and bool(view.order_gid)


def _refunds_for(
    session: Session, case: ReturnCase, view: ReturnView | None, refunds: Sequence[ShopifyRefund]
) -> tuple[ShopifyRefund, ...]:
    """The order's refunds that could have paid for this return outside it and outside dropsync."""
    if view is None or not refunds:
        return ()
    ours = line_gids(session, case)
    gids = {ours[line.line_item_id] for line in case.lines if line.line_item_id in ours}
    gids |= {line.line_item_gid for line in view.lines if line.line_item_gid}
    markers = outside.own_markers(session, case.order_id)
    return outside.refunds_for_return(refunds, since=view.created_at, markers=markers, line_gids=gids)


def _planning_failed(sessions: UnitOfWork, return_id: int, exc: Exception, *, final: bool = False) -> str:
    """A read the next step needs failed (``worker.timeline.planning_failed``): the return goes to a person
    at the last try (it would loop unseen, sent round by the sweeper every minute)."""
    with sessions() as session:
        case = session.get_one(ReturnCase, return_id, with_for_update=True)
        if case.state != rs.SHOPIFY_ACTION:
            return "idle"
        subject, since = f"return {case.id}", entered_at(case.state_history)
        why = planning_failed(session, shop_id=case.shop_id, order_id=case.order_id, subject=subject, since=since,
                              error=exc, final=final)  # fmt: skip
        if why is None:
            return "retry"
        to_operator(session, case, why)
        return rs.NEEDS_OPERATOR


@dataclass(frozen=True)
class CaseSnapshot:
    """What computing a step's input needs from the return row, read while the row was locked."""

    id: int
    decision: Decision | None
    verdict: str | None
    reason: str
    shopify_reason: str | None
    note: str | None
    decline_reason: str | None
    decline_note: str | None
    lines: tuple[tuple[int, int], ...]  # (line item id, quantity)

    @property
    def notify(self) -> bool:
        return self.decision is not None and self.decision.notify_customer


def case_snapshot(case: ReturnCase) -> CaseSnapshot:
    return CaseSnapshot(
        id=case.id, decision=Decision.stored(case.policy_decision), verdict=case.verdict, reason=case.reason,
        shopify_reason=case.shopify_reason, note=case.note, decline_reason=case.decline_reason,
        decline_note=case.decline_note, lines=tuple((line.line_item_id, line.quantity) for line in case.lines),
    )  # fmt: skip


#: Steps that only move the return: declined or canceled on Shopify, or waiting for the goods.
_SETTLED = {StepKind.DECLINED: rs.DECLINED, StepKind.CANCELED: rs.CANCELED, StepKind.AWAITING_GOODS: rs.AWAITING_GOODS}


def _settle(session: Session, case: ReturnCase, step: Step, view: ReturnView | None) -> str:
    if view is not None:
        case.shopify_status = view.status
    if step.what is StepKind.OPERATOR:
        to_operator(session, case, step.why)
        return "operator"
    if step.what is StepKind.DONE:
        processed = [i for i in _succeeded(session, case.id) if i.kind == IntentKind.RETURN_PROCESS]
        amount = sum((Decimal(str(i.params.get("amount", "0"))) for i in processed), Decimal(0))
        case.refund_total = amount
        rs.move(session, case, rs.DONE, actor="system", why=step.why, data={"refunded": str(amount)})
        recovery.expect_supplier_recovery(session, case)
        return "done"
    target = _SETTLED[step.what]
    rs.move(session, case, target, actor="system", why=step.why)
    return "wait" if target == rs.AWAITING_GOODS else target


def _params(
    client: ShopifyClient, case: CaseSnapshot, step: Step, order_gid: str, view: ReturnView | None,
    line_gids: dict[int, str],
) -> dict[str, Any]:  # fmt: skip
    """The step's complete input, computed once (outside any transaction) and stored with the intent."""
    assert step.kind is not None
    key = ik.new_key(step.kind)
    base: dict[str, Any] = {"order_gid": order_gid, "key": key, "notify": case.notify}
    if step.kind is IntentKind.RETURN_CREATE:
        return {**base, "lines": _create_lines(client, case, order_gid, line_gids, key)}
    assert view is not None
    base["return_gid"] = view.gid
    if step.kind is IntentKind.RETURN_DECLINE:
        return {**base, "reason": case.decline_reason or "OTHER", "note": case.decline_note or ""}
    if step.kind is IntentKind.RETURN_PROCESS:
        return {**base, **_process_params(client, case, order_gid, view, line_gids, key)}
    return base


def _create_lines(
    client: ShopifyClient, case: CaseSnapshot, order_gid: str, line_gids: dict[int, str], key: str
) -> list[dict[str, Any]]:
    from worker.policy import Reason
    from worker.returns.mapping import shopify_reason

    returnables = read_returnables(client, order_gid)
    note = f"{case.note or 'dropsync return'} [{key}]"[-255:]
    reason = case.shopify_reason or shopify_reason(Reason(case.reason))
    lines: list[dict[str, Any]] = []
    short: list[str] = []
    for line_item_id, quantity in case.lines:
        left = quantity
        for item in returnables.fulfillment_line_items(line_gids[line_item_id]):  # the units still returnable
            take = min(left, item.quantity)
            if take <= 0:
                break
            lines.append({"fulfillmentLineItemId": item.fulfillment_line_item_gid, "quantity": take,
                          "returnReason": reason, "returnReasonNote": note})  # fmt: skip
            left -= take
        if left > 0:
            short.append(f"{left} of {quantity} unit(s) of line {line_gids[line_item_id]}")
    if short:
        raise NotReturnable(
            f"Shopify has no returnable units left for {', '.join(short)} (not shipped, or already in another "
            "return): check the order's returns on Shopify, then resume or decline this one"
        )
    return lines


class NotReturnable(Exception):
    """The return asks for units no fulfillment can give back any more: nothing is sent; a person decides."""


def _process_params(
    client: ShopifyClient, case: CaseSnapshot, order_gid: str, view: ReturnView, line_gids: dict[int, str], key: str
) -> dict[str, Any]:
    order = read_order(client, order_gid)
    note = f"dropsync return {case.id} [{key}]"
    transactions: list[dict[str, Any]] = []
    shipping, moved = "0", Decimal(0)
    decision = case.decision
    if decision is not None and decision.refund_total > 0 and order.refundable > 0:
        refund_lines = [
            {"line_gid": line_gids[int(li.line_id)], "quantity": li.quantity, "restock": li.restock}
            for li in decision.lines
            if int(li.line_id) in line_gids
        ]
        refund, moved = cancellation_actions.refund_input(
            client, order, lines=refund_lines, shipping=decision.shipping_amount, total=decision.refund_total,
            note=note, notify=case.notify,
        )  # fmt: skip
        transactions = [
            {"parentId": t["parentId"], "transactionAmount": {"amount": t["amount"], "currencyCode": order.currency}}
            for t in refund["transactions"]
        ]
        shipping = str((refund.get("shipping") or {}).get("amount", "0"))
    return {
        "lines": [{"id": line.gid, "quantity": line.quantity - line.processed} for line in view.lines
                  if line.quantity > line.processed],
        "transactions": transactions, "shipping": shipping, "currency": order.currency, "note": note,
        "amount": str(moved), "processed_before": view.processed_units, "refunds_before": [r.gid for r in view.refunds],
    }  # fmt: skip


def _commit_planned(sessions: UnitOfWork, return_id: int, step: Step, params: dict[str, Any]) -> int | None:
    """Commit the intent under the return's row lock; ``None`` when this step already succeeded meanwhile."""
    assert step.kind is not None
    try:
        with sessions() as session:
            case = session.get_one(ReturnCase, return_id, with_for_update=True)
            if (other := _live_intent_of(session, return_id)) is not None:
                return other
            if case.state != rs.SHOPIFY_ACTION or any(i.kind == step.kind for i in _succeeded(session, return_id)):
                return None
            intent, _ = ik.create_intent(
                session, shop_id=case.shop_id, order_id=case.order_id, kind=step.kind, params=params,
                request_id=None, key=params.pop("key"), return_id=case.id,
            )  # fmt: skip
            if intent.return_id != case.id:
                return None  # another return of the order holds the live intent of this kind: plan again later
            if intent.attempts == 0:
                intent.next_attempt_at = utcnow() + dt.timedelta(seconds=SWEEPER_GRACE_SECONDS)
            return intent.id
    except IntegrityError:
        with sessions() as session:
            return _live_intent_of(session, return_id)
