"""Carrying a request's Shopify action out, exactly once, across crashes and lost answers.

Every step is its own short transaction; nothing is held open while Shopify is called:

1. ``plan``: re-read Shopify (``OrderForAction``), choose the next action from its *current* state and
   the stored policy decision, and commit a ``pending`` intent with its idempotency key (and, for a
   refund, the complete refundCreate input) — before Shopify ever sees it;
2. ``execute_intent``: claim it (``submitting``, committed); if an earlier attempt may have run, read
   Shopify and adopt what is there; else send the mutation; record the verdict (committed) and mirror
   the order as Shopify now shows it.

Where the process can die, and what happens then (``DROPSYNC_FAILPOINT`` simulates each one):

- after the claim: the intent is ``submitting``; the redelivered task (or the sweeper after
  ``STALE_SUBMITTING``) reads Shopify first, finds nothing, sends;
- after Shopify applied, before our commit: same, and the read finds the cancellation (``cancelledAt``)
  or the refund (its note carries the intent key; the resend with the same key returns it anyway);
- after our commit, before the ack: the redelivered task finds the intent terminal: nothing to do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import (
    ShopifyError,
    ShopifyOutcomeUnknown,
    ShopifyUserErrors,
)
from models import CancellationRequest, IntentState, LineItem, Order, ShopifyIntent
from models.cancellation import LIVE_INTENT_STATES
from models.types import utcnow
from worker.cancellation import actions
from worker.cancellation import intents as ik
from worker.cancellation import states as s
from worker.cancellation.errors import NotConfirmed
from worker.cancellation.failpoints import failpoint
from worker.cancellation.intents import IntentKind
from worker.cancellation.shopify_view import OrderView, complete_for_planning, parse_order, read_order
from worker.db import UnitOfWork
from worker.mirror.apply import apply_snapshots, queue_re_reads
from worker.mirror.reconcile import read_for_mirror
from worker.mirror.snapshot import from_graphql
from worker.policy.decision import Action, Decision
from worker.policy.inputs import RequestKind
from worker.timeline import entered_at, planning_failed

log = structlog.get_logger(__name__)

#: A fresh pending intent is executed by the task that planned it; the sweeper waits this long first.
SWEEPER_GRACE_SECONDS = 30
MAX_STEPS = 6


class StepKind(StrEnum):
    INTENT = "intent"  # perform ``Step.kind``
    DONE = "done"
    WAIT = "wait"  # for the fulfillment service or the supplier: a webhook or the sweeper comes back
    OPERATOR = "operator"  # a person decides


@dataclass(frozen=True)
class Step:
    """The next thing a request needs: an intent to perform, or ``done`` / ``wait`` / ``operator``."""

    what: StepKind
    kind: IntentKind | None = None
    params: dict[str, Any] | None = None
    why: str = ""


# -- planning -------------------------------------------------------------------------------------------


def _succeeded(session: Session, request: CancellationRequest) -> list[ShopifyIntent]:
    return list(
        session.scalars(
            select(ShopifyIntent).where(
                ShopifyIntent.cancellation_request_id == request.id, ShopifyIntent.state == IntentState.SUCCEEDED
            )
        )
    )


def _done_for(done: list[ShopifyIntent], kind: IntentKind, fo_gid: str | None = None) -> bool:
    return any(i.kind == kind and (fo_gid is None or i.params.get("fulfillment_order_gid") == fo_gid) for i in done)


def plan(session: Session, request: CancellationRequest, view: OrderView) -> Step:
    """The next step from Shopify's current state and the stored decision (pure over its inputs).

    Money rules: one refund intent per request at most; orderCancel refunds by itself only when the
    decision refunds everything still refundable, otherwise it cancels without refunding and a
    refundCreate moves exactly the decision's amount — never both for the same money.
    """
    decision = Decision.stored(request.policy_decision)
    done = _succeeded(session, request)
    if decision is not None and _action(request, decision) is Action.CANCEL:
        return _plan_cancel(session, request, view, done, decision)
    if _done_for(done, IntentKind.REFUND_CREATE):
        return Step(StepKind.DONE, why="refund created")
    if decision is None or decision.refund_total <= 0:
        return Step(StepKind.DONE, why="the decision refunds nothing")
    return _refund_step(session, request, view, decision)


def _action(request: CancellationRequest, decision: Decision) -> Action:
    """What to do on Shopify: an escalation approved by a person does what the rules evaluated."""
    if decision.action is not Action.ESCALATE:
        return decision.action
    whole = not request.items
    return Action.CANCEL if decision.kind is RequestKind.CANCEL and whole else Action.REFUND_ITEMS


def _plan_cancel(
    session: Session, request: CancellationRequest, view: OrderView, done: list[ShopifyIntent], decision: Decision
) -> Step:
    total = decision.refund_total
    if view.cancelled:
        cancel = next((i for i in done if i.kind == IntentKind.ORDER_CANCEL), None)
        if total <= 0 or _done_for(done, IntentKind.REFUND_CREATE):
            return Step(StepKind.DONE, why="order cancelled on Shopify")
        if view.refundable <= 0:
            return Step(StepKind.DONE, why="order cancelled; nothing left to refund")
        if cancel and cancel.params.get("refund") and _refunded_since_cancelled(view):
            # Ours refunds all that is left, so something is still refundable: a refund still pending, or
            # one made by hand since. Sending another could pay the customer twice.
            return Step(StepKind.OPERATOR, why=(
                f"Shopify shows the order cancelled with {view.refundable} {view.currency} still refundable "
                f"after a refund at its cancellation: check the refunds in Shopify (the policy decided {total})"
            ))  # fmt: skip
        # Cancelled with no refund at all (in Shopify's admin, while ours was being retried, or before it):
        # the customer has not been paid back; the refund goes on its own.
        return _refund_step(session, request, view, decision)
    if view.shipped:
        return Step(StepKind.OPERATOR,
                    why="Shopify shows the order fulfilled since the decision: decide a refund or return")  # fmt: skip
    submitted = view.open_fulfillment_orders("SUBMITTED")
    if submitted:
        fo = submitted[0]
        return Step(StepKind.INTENT, IntentKind.FULFILLMENT_ORDER_CANCEL,
                    {"order_gid": view.gid, "fulfillment_order_gid": fo.gid},
                    why="withdraw the fulfillment request first")  # fmt: skip
    rejected = view.open_fulfillment_orders("CANCELLATION_REJECTED")
    if rejected:
        return Step(StepKind.OPERATOR, why="the fulfillment service rejected the cancellation request")
    if view.open_fulfillment_orders("CANCELLATION_REQUESTED"):
        if request.source == "fulfillment_service":
            # The merchant asked *us* (the fulfillment service): nobody else will answer.
            return Step(StepKind.OPERATOR, why="the supplier side is settled: accept the merchant's cancellation "
                        "request on the fulfillment order in Shopify, then retry")  # fmt: skip
        return Step(StepKind.WAIT, why="waiting for the fulfillment service to answer the cancellation request")
    accepted = view.open_fulfillment_orders("ACCEPTED")
    if accepted:
        fo = accepted[0]
        if _done_for(done, IntentKind.CANCELLATION_REQUEST, fo.gid):
            return Step(StepKind.WAIT, why="cancellation request sent to the fulfillment service")
        params: dict[str, Any] = {"order_gid": view.gid, "fulfillment_order_gid": fo.gid,
                  "message": f"Please cancel: customer request ({request.reason})"}  # fmt: skip
        return Step(StepKind.INTENT, IntentKind.CANCELLATION_REQUEST, params,
                    why="the fulfillment service holds the order")  # fmt: skip
    # What our own refunds already moved counts: the cancel may only refund what is still owed.
    remaining = total - sum(
        (Decimal(i.params.get("amount", "0")) for i in done if i.kind == IntentKind.REFUND_CREATE), Decimal(0)
    )
    full = remaining > 0 and remaining >= view.refundable
    if not full and remaining > 0 and not _done_for(done, IntentKind.REFUND_CREATE):
        # Less than everything (a fee kept): refund the decision's amount while the lines still exist,
        # then cancel without refunding. orderCancel's own refund would move all of it.
        return _refund_step(session, request, view, decision)
    cancel_params: dict[str, Any] = {
        "order_gid": view.gid, "reason": decision.shopify_cancel_reason or "CUSTOMER", "restock": True,
        "notify_customer": decision.notify_customer, "refund": full,
        "staff_note": f"dropsync cancellation request {request.id}",
    }  # fmt: skip
    return Step(StepKind.INTENT, IntentKind.ORDER_CANCEL, cancel_params, why="unfulfilled: cancel the order")


#: How far apart a cancellation and the refund it made can be stamped on Shopify.
CANCEL_REFUND_SLACK = dt.timedelta(minutes=2)


def _refunded_since_cancelled(view: OrderView) -> bool:
    """Shopify shows a refund made with the order's cancellation or after it (both stamped by Shopify's
    clock; a refund without a date counts)."""
    assert view.cancelled_at is not None
    since = view.cancelled_at - CANCEL_REFUND_SLACK
    return any(r.created_at is None or r.created_at >= since for r in view.refunds)


def _refund_step(session: Session, request: CancellationRequest, view: OrderView, decision: Decision) -> Step:
    if view.refundable <= 0:
        return Step(StepKind.DONE, why="nothing left to refund on Shopify")
    gids = dict(
        session.execute(select(LineItem.id, LineItem.shopify_gid).where(LineItem.order_id == request.order_id)).all()
    )
    lines = [
        {"line_gid": gids[int(li.line_id)], "quantity": li.quantity, "restock": li.restock}
        for li in decision.lines
        if int(li.line_id) in gids and not view.cancelled
    ]
    total = decision.refund_total
    # A cancelled order's lines and shipping are gone from what Shopify refunds by line: money only.
    shipping = Decimal(0) if view.cancelled else decision.shipping_amount
    params = {"order_gid": view.gid, "lines": lines, "shipping": str(shipping),
              "total": str(total), "notify": decision.notify_customer}  # fmt: skip
    return Step(StepKind.INTENT, IntentKind.REFUND_CREATE, params, why=f"refund {total} {decision.currency}")


# -- running a request ----------------------------------------------------------------------------------


def run_request(sessions: UnitOfWork, request_id: int, client: ShopifyClient, *, reclaim_stale: bool = False) -> str:
    """Advance a request in ``shopify_action`` until it is done, waits, or needs a person. Idempotent.

    A live intent of the request (even ``submitting``) is finished first: the request is never planned
    past an intent whose outcome is not recorded.
    """
    outcome, seen = "idle", _Seen()
    for _ in range(MAX_STEPS):
        outcome = _one_step(sessions, request_id, client, reclaim_stale, seen)
        if outcome != "progress":
            return outcome
    return outcome


@dataclass
class _Seen:
    """The order as Shopify showed it right after our last action, when that read was complete: the next
    step plans from it instead of reading the order again (a simple cancellation: 3 calls, not 4)."""

    view: OrderView | None = None

    def take(self) -> OrderView | None:
        view, self.view = self.view, None
        return view


def _one_step(sessions: UnitOfWork, request_id: int, client: ShopifyClient, reclaim_stale: bool, seen: _Seen) -> str:
    with sessions() as session:
        request = session.get(CancellationRequest, request_id)
        if request is None or request.state != s.SHOPIFY_ACTION:
            return "idle"
        live = _live_intent_of(session, request_id)
        order_gid = session.get_one(Order, request.order_id).shopify_gid
    if live is not None:
        seen.take()
        state = _execute(sessions, live, client, reclaim_stale=reclaim_stale, seen=seen)
        return "progress" if state == IntentState.SUCCEEDED else state
    try:
        view = seen.take() or read_order(client, order_gid)
    except ShopifyError as exc:
        return _planning_failed(sessions, request_id, exc)
    with sessions() as session:
        request = session.get_one(CancellationRequest, request_id, with_for_update=True)
        if request.state != s.SHOPIFY_ACTION:
            return "idle"
        if (other := _live_intent_of(session, request_id)) is not None:
            live = other  # a concurrent run planned meanwhile: finish that one, plan nothing
        else:
            step = plan(session, request, view)
            if step.what is StepKind.DONE:
                _complete(session, request, view, step.why)
                return "done"
            if step.what is StepKind.WAIT:
                return "wait"
            if step.what is StepKind.OPERATOR:
                request_to_operator(session, request, step.why)
                return "operator"
    if live is None:
        try:
            live = _create_planned(sessions, request_id, step, client, view)
        except ShopifyError as exc:
            return _planning_failed(sessions, request_id, exc)
        if live is None:
            return "progress"  # a concurrent run did this step meanwhile: plan again from Shopify
    # Committed: the key is durable before Shopify sees it.
    state = _execute(sessions, live, client, reclaim_stale=reclaim_stale, seen=seen)
    return "progress" if state == IntentState.SUCCEEDED else state


def _planning_failed(sessions: UnitOfWork, request_id: int, exc: ShopifyError) -> str:
    """A read the next step needs failed (``worker.timeline.planning_failed``): the request goes to a
    person at the last try (it would loop unseen, advanced again by the sweeper every minute)."""
    with sessions() as session:
        request = session.get_one(CancellationRequest, request_id, with_for_update=True)
        if request.state != s.SHOPIFY_ACTION:
            return "idle"
        subject, since = f"cancellation request {request.id}", entered_at(request.state_history)
        why = planning_failed(session, shop_id=request.shop_id, order_id=request.order_id, subject=subject,
                              since=since, error=exc)  # fmt: skip
        if why is None:
            return "retry"
        request_to_operator(session, request, why)
        return "operator"


def _live_intent_of(session: Session, request_id: int) -> int | None:
    return session.scalar(
        select(ShopifyIntent.id).where(
            ShopifyIntent.cancellation_request_id == request_id, ShopifyIntent.state.in_(LIVE_INTENT_STATES)
        )
    )


def _create_planned(
    sessions: UnitOfWork, request_id: int, step: Step, client: ShopifyClient, view: OrderView
) -> int | None:
    """Commit the planned intent (a refund's complete input computed first, outside any transaction).

    Under the request's row lock: ``None`` when the same step already succeeded (a concurrent run got
    there first) — one refund per request, never a second with a new key.
    """
    assert step.kind is not None
    params, key = dict(step.params or {}), ik.new_key(step.kind)
    if step.kind is IntentKind.REFUND_CREATE:
        try:
            params = _with_refund_input(client, view, params, request_id, key)
        except ShopifyError:
            # ``view`` may be stale: a concurrent run may have refunded since it was read, and Shopify
            # refuses to suggest a refund of items already refunded. If so, finish or re-plan; else raise.
            taken, live = _taken_meanwhile(sessions, request_id, step, params.get("fulfillment_order_gid"))
            if not taken:
                raise
            return live
    try:
        return _commit_planned(sessions, request_id, step, params, key)
    except IntegrityError:
        # SQLite (no row locks): a concurrent run inserted the live intent first; the unique index
        # refused ours. Finish theirs.
        with sessions() as session:
            return _live_intent_of(session, request_id)


def _taken_meanwhile(sessions: UnitOfWork, request_id: int, step: Step, fo_gid: str | None) -> tuple[bool, int | None]:
    """(taken, live intent): whether a concurrent run already planned (live) or finished this step."""
    assert step.kind is not None
    with sessions() as session:
        request = session.get_one(CancellationRequest, request_id)
        if (other := _live_intent_of(session, request_id)) is not None:
            return True, other
        return _done_for(_succeeded(session, request), step.kind, fo_gid), None


def _commit_planned(sessions: UnitOfWork, request_id: int, step: Step, params: dict[str, Any], key: str) -> int | None:
    assert step.kind is not None
    with sessions() as session:
        request = session.get_one(CancellationRequest, request_id, with_for_update=True)
        if (other := _live_intent_of(session, request_id)) is not None:
            return other
        if _done_for(_succeeded(session, request), step.kind, params.get("fulfillment_order_gid")):
            return None
        intent, _ = ik.create_intent(
            session, shop_id=request.shop_id, order_id=request.order_id, kind=step.kind, params=params,
            request_id=request.id, key=key,
        )  # fmt: skip
        if intent.attempts == 0:
            # The planner executes it right away; the sweeper only picks it up if that run dies.
            intent.next_attempt_at = utcnow() + dt.timedelta(seconds=SWEEPER_GRACE_SECONDS)
        return intent.id


def _with_refund_input(
    client: ShopifyClient, view: OrderView, params: dict[str, Any], request_id: int, key: str
) -> dict[str, Any]:
    note = f"dropsync cancellation request {request_id} [{key}]"
    refund, amount = actions.refund_input(
        client, view, lines=params["lines"], shipping=Decimal(str(params["shipping"])),
        total=Decimal(params["total"]), note=note, notify=params["notify"],
    )  # fmt: skip
    return {**params, "input": refund, "amount": str(amount)}


def _complete(session: Session, request: CancellationRequest, view: OrderView, why: str) -> None:
    s.move(session, request, s.DONE, actor="system", why=why, data={"shopify_refunded": str(view.total_refunded)})


def request_to_operator(session: Session, request: CancellationRequest, why: str, *, actor: str = "system") -> None:
    """``needs_operator``: the move raises its ``cancellation_needs_operator`` alert (one per hand-over,
    ``states.hand_over_alerts``), resolved when a person takes the request back."""
    s.move(session, request, s.NEEDS_OPERATOR, actor=actor, why=why)


# -- executing one intent -------------------------------------------------------------------------------


def _claim(sessions: UnitOfWork, intent_id: int, *, reclaim_stale: bool) -> tuple[ShopifyIntent, bool] | None:
    """``(intent, read_first)`` after committing ``submitting``; ``None`` when not claimable now."""
    with sessions() as session:
        intent = ik.get_intent(session, intent_id, lock=True)
        if intent.state in (IntentState.SUCCEEDED, IntentState.FAILED):
            return None
        if intent.state == IntentState.SUBMITTING:
            stale = intent.submitted_at is None or intent.submitted_at <= utcnow() - ik.stale_submitting()
            if not (reclaim_stale or stale):
                return None  # another worker is on it right now
        read_first = intent.state in (IntentState.SUBMITTING, IntentState.UNKNOWN) or intent.attempts > 0
        intent.state = IntentState.SUBMITTING
        intent.attempts += 1
        intent.submitted_at = utcnow()
        session.flush()
        session.expunge(intent)
        return intent, read_first


def execute_intent(sessions: UnitOfWork, intent_id: int, client: ShopifyClient, *, reclaim_stale: bool = False) -> str:
    """Perform one intent (see the module doc); returns its state afterwards. Never raises Shopify errors.

    ``reclaim_stale``: the caller knows the ``submitting`` holder is dead (a redelivered task message).
    """
    return _execute(sessions, intent_id, client, reclaim_stale=reclaim_stale, seen=_Seen())


def _execute(sessions: UnitOfWork, intent_id: int, client: ShopifyClient, *, reclaim_stale: bool, seen: _Seen) -> str:
    claimed = _claim(sessions, intent_id, reclaim_stale=reclaim_stale)
    if claimed is None:
        with sessions() as session:
            return ik.get_intent(session, intent_id).state
    intent, read_first = claimed
    failpoint("after_claim", intent.kind)
    try:
        if read_first:
            adopted = actions.existing_effect(client, intent)
            if adopted is not None:
                outcome = ik.Outcome(adopted)
                return _finish(sessions, intent, client, outcome, how="adopted (already on Shopify)", seen=seen)
        outcome = actions.perform(client, intent)
    except actions.JobStillRunning as exc:
        job_gid, message = exc.job_gid, str(exc)
        return _verdict(sessions, intent, lambda se, i: ik.mark_unknown(se, i, message, job_gid=job_gid))
    except ShopifyOutcomeUnknown as exc:
        message = str(exc)
        return _verdict(sessions, intent, lambda se, i: ik.mark_unknown(se, i, message))
    except ShopifyUserErrors as exc:
        return _refused(sessions, intent, client, exc)
    except NotConfirmed as exc:
        message = str(exc)
        return _verdict(sessions, intent, lambda se, i: ik.mark_failed(se, i, message))
    except ShopifyError as exc:  # transport (never sent), throttled, HTTP 4xx, GraphQL errors: not applied
        return _not_applied(sessions, intent, str(exc))
    failpoint("after_mutation", intent.kind)
    return _finish(sessions, intent, client, outcome, how="applied", seen=seen)


def _verdict(sessions: UnitOfWork, intent: ShopifyIntent, mark: Callable[[Session, ShopifyIntent], Any]) -> str:
    with sessions() as session:
        row = ik.get_intent(session, intent.id, lock=True)
        mark(session, row)
        _after_failure(session, row)
        return row.state


def _not_applied(sessions: UnitOfWork, intent: ShopifyIntent, error: str) -> str:
    """Shopify refused before running it (or it never left): retry later; hand over after MAX_ATTEMPTS."""
    with sessions() as session:
        row = ik.get_intent(session, intent.id, lock=True)
        if row.attempts >= ik.MAX_ATTEMPTS:
            ik.mark_failed(session, row, error)
        else:
            ik.mark_retry(session, row, error)
        _after_failure(session, row)
        return row.state


def _refused(sessions: UnitOfWork, intent: ShopifyIntent, client: ShopifyClient, exc: ShopifyUserErrors) -> str:
    """userErrors: maybe because an earlier attempt already did it ("already cancelled"): look first."""
    try:
        adopted = actions.existing_effect(client, intent)
    except NotConfirmed as seen:  # Shopify shows what someone else did: theirs, not ours to adopt
        message = f"{exc}; {seen}"
        return _verdict(sessions, intent, lambda se, i: ik.mark_failed(se, i, message))
    except (ShopifyError, actions.JobStillRunning):
        adopted = None
    if adopted is not None:
        return _finish(sessions, intent, client, ik.Outcome(adopted), how="adopted after a refusal")
    return _verdict(sessions, intent, lambda se, i: ik.mark_failed(se, i, str(exc)))


def _after_failure(session: Session, intent: ShopifyIntent) -> None:
    if intent.state == IntentState.FAILED and intent.return_id is not None:
        from worker.returns.handover import return_intent_failed

        return_intent_failed(session, intent)
    if intent.state != IntentState.FAILED or intent.cancellation_request_id is None:
        return
    request = session.get(CancellationRequest, intent.cancellation_request_id)
    if request is not None and request.state == s.SHOPIFY_ACTION:
        request_to_operator(session, request, f"Shopify {intent.kind} failed: {intent.last_error}")


def _finish(
    sessions: UnitOfWork, intent: ShopifyIntent, client: ShopifyClient, outcome: ik.Outcome, *, how: str,
    seen: _Seen | None = None,
) -> str:  # fmt: skip
    # orderCancel's confirmation read already is the order as Shopify shows it now: mirror that.
    node = outcome.order_node or _read_for_mirror(client, intent.params["order_gid"])
    if seen is not None and node is not None and complete_for_planning(node):
        seen.view = parse_order(node)
    with sessions() as session:
        row = ik.get_intent(session, intent.id, lock=True)
        ik.mark_succeeded(session, row, outcome.result_ids, actor="system", how=how, job_gid=outcome.job_gid)
        if node is not None:  # read after acting: a webhook of the same second may be the newer (re-read)
            queue_re_reads(
                session, row.shop_id, apply_snapshots(session, row.shop_id, [from_graphql(node, source="action")])
            )
        state, kind = row.state, row.kind
    failpoint("after_commit", kind)
    return state


def _read_for_mirror(client: ShopifyClient, order_gid: str) -> dict[str, Any] | None:
    """The order as Shopify shows it after acting, for the mirror. A failed read is not fatal: the
    webhook or the next reconciliation brings it."""
    try:
        node = read_for_mirror(client, order_gid)
    except ShopifyError as exc:
        log.warning("could not re-read the order after acting", order=order_gid, error=str(exc))
        return None
    return node
