"""Returns: opened by the operator (the policy decides first, then ``returnCreate``), by the customer on
Shopify (``returns/request``: mirrored, decided, approved or declined), or by a cancellation that came too
late (``converted_to_return``). Approve / decline by a person, goods received, resume.

Services flush, never commit: the CLI command, the task or the webhook drain owns the transaction.
Reaching ``shopify_action`` enqueues ``returns.advance`` through the outbox (published after the commit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CancellationRequest, LineItem, Order, ReturnCase, ReturnLine
from models.types import utcnow
from worker import outbox
from worker.errors import NotFoundError, RefusedError, UsageError
from worker.policy import Action, Decision, Reason, RequestKind
from worker.policy.adapters import check_order
from worker.policy.model import Policy
from worker.policy.startup import configured_policy
from worker.returns import evidence as ev
from worker.returns import mapping
from worker.returns import states as rs
from worker.returns.view import ReturnView
from worker.timeline import record_event

ADVANCE_TASK = "returns.advance"
SYNC_TASK = "returns.sync"


def get_return(session: Session, return_id: int, *, lock: bool = False) -> ReturnCase:
    query = select(ReturnCase).where(ReturnCase.id == return_id)
    if lock:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise NotFoundError(f"unknown return {return_id}")
    return case


def returns_for_order(session: Session, order_id: int) -> list[ReturnCase]:
    query = select(ReturnCase).where(ReturnCase.order_id == order_id).order_by(ReturnCase.id)
    return list(session.scalars(query))


def open_return(session: Session, order_id: int) -> ReturnCase | None:
    query = select(ReturnCase).where(ReturnCase.order_id == order_id, ReturnCase.state.in_(rs.OPEN))
    return session.scalars(query.order_by(ReturnCase.id.desc())).first()


def decide(
    session: Session, order: Order, reason: Reason, items: Mapping[str, int], evidence: Iterable[ev.EvidenceItem],
    policy: Policy, now: dt.datetime,
) -> Decision:  # fmt: skip
    """The policy's decision on a return of ``items`` (evaluated as a return, whatever was shipped)."""
    return check_order(
        session, order, policy=policy, reason=reason, now=now, items=items, kind=RequestKind.RETURN,
        evidence=ev.kinds(evidence),
    )  # fmt: skip


def _verdict(decision: Decision) -> str | None:
    """approve / decline, or ``None`` when a person decides (escalated)."""
    if decision.action is Action.ESCALATE:
        return None
    if decision.action is Action.DENY or not decision.allowed:
        return "decline"
    return "approve"


def _new_case(
    session: Session, order: Order, *, reason: Reason, source: str, actor: str, keep_item: bool, note: str | None,
    decision: Decision, policy: Policy, shopify_reason: str | None = None, request_id: int | None = None,
) -> ReturnCase:  # fmt: skip
    case = ReturnCase(
        shop_id=order.shop_id, order_id=order.id, cancellation_request_id=request_id, source=source,
        reason=reason.value, shopify_reason=shopify_reason, note=note, keep_item=keep_item, state=rs.SHOPIFY_ACTION,
        state_history=[], policy_decision=decision.to_dict(), policy_version=policy.version,
        refund_total=Decimal(0), currency=order.currency, requested_by=actor,
    )  # fmt: skip
    session.add(case)
    session.flush()
    return case


def _add_lines(session: Session, case: ReturnCase, items: Mapping[str, int]) -> None:
    for line_id, quantity in sorted(items.items()):
        if quantity > 0:
            case.lines.append(ReturnLine(line_item_id=int(line_id), quantity=quantity))
    session.flush()


def whole_order_items(order: Order) -> dict[str, int]:
    """Every unit not refunded yet, by ledger line id (what ``--items`` omitted means)."""
    return {str(li.id): li.current_quantity for li in order.line_items if li.current_quantity > 0}


def request_return(
    session: Session, order: Order, *, reason: str, items: Mapping[str, int] | None = None,
    evidence: Iterable[ev.EvidenceItem] = (), keep_item: bool = False, actor: str, note: str | None = None,
    source: str = "operator", request_id: int | None = None, policy: Policy | None = None,
    now: dt.datetime | None = None,
) -> ReturnCase:  # fmt: skip
    """An operator's (or a late cancellation's) return: the policy decides first; only an approved (or
    person-approved) return is created on Shopify. A denial is stored (``denied``) and returned."""
    if order.cancelled_at is not None:
        raise RefusedError(f"{order.name} is cancelled on Shopify: there is nothing to return")
    if (existing := open_return(session, order.id)) is not None:
        raise RefusedError(f"{order.name} already has return {existing.id} ({existing.state})")
    try:
        policy_reason = Reason(reason)
    except ValueError:
        raise UsageError(
            f"--reason: unknown reason {reason!r} (one of: {', '.join(r.value for r in Reason)})"
        ) from None
    items = dict(items or whole_order_items(order))
    if not items:
        raise RefusedError(f"{order.name} has nothing left to return (every unit was refunded)")
    evidence = list(evidence)
    policy, now = policy or configured_policy(), now or utcnow()
    decision = decide(session, order, policy_reason, items, evidence, policy, now)
    case = _new_case(
        session, order, reason=policy_reason, source=source, actor=actor, keep_item=keep_item, note=note,
        decision=decision, policy=policy, request_id=request_id,
    )  # fmt: skip
    _add_lines(session, case, items)
    if request_id is None:  # a late cancellation's evidence stays with its request (read from there)
        ev.attach(session, order.id, evidence, actor, return_id=case.id)
    _record_decision(session, case, decision, actor)
    verdict = _verdict(decision)
    why = "; ".join(decision.reasons)
    if verdict is None:
        rs.start(session, case, rs.NEEDS_APPROVAL, actor="policy", why=why or "escalated by the policy")
    elif verdict == "decline":
        rs.start(session, case, rs.DENIED, actor="policy", why=why or "denied by the policy")
    else:
        case.verdict = "approve"
        _start_action(session, case, actor="policy", why="approved by the policy: create the return on Shopify")
    return case


def _record_decision(session: Session, case: ReturnCase, decision: Decision, actor: str) -> None:
    record_event(
        session, shop_id=case.shop_id, order_id=case.order_id, kind="return.decided", actor=actor,
        message=f"return {case.id} ({case.reason}, {case.source}): policy {(case.policy_version or '')[:12]} says "
        f"{decision.action.value}, refund {decision.refund_total} {decision.currency}"
        + (", customer keeps the goods" if case.keep_item or not decision.return_required else ", goods come back"),
        data={"return_id": case.id, "action": decision.action.value, "refund_total": str(decision.refund_total),
              "reasons": list(decision.reasons)},
    )  # fmt: skip


def _start_action(session: Session, case: ReturnCase, *, actor: str, why: str) -> None:
    if case.state == rs.SHOPIFY_ACTION and not case.state_history:
        rs.start(session, case, rs.SHOPIFY_ACTION, actor=actor, why=why)
    else:
        rs.move(session, case, rs.SHOPIFY_ACTION, actor=actor, why=why)
    enqueue_advance(session, case)


def _decline(case: ReturnCase, decision: Decision, why: str | None = None) -> None:
    case.verdict = "decline"
    case.decline_reason = mapping.decline_reason(decision)
    case.decline_note = why[: mapping.DECLINE_NOTE_LIMIT] if why else mapping.decline_note(decision)


def enqueue_advance(session: Session, case: ReturnCase, tag: str | None = None) -> None:
    key = f"returns.advance:{case.id}:{tag or len(case.state_history)}"
    outbox.enqueue(session, ADVANCE_TASK, [case.id], dedupe_key=key)


# -- the customer's requests (returns/request) --------------------------------------------------------


def mirror_return(
    session: Session, shop_id: int, view: ReturnView, *, actor: str = "shopify:webhook"
) -> ReturnCase | None:
    """Bring a Shopify return into the ledger. A new REQUESTED one is decided by the policy and carried
    out; a known one follows Shopify (a canceled or closed return moves on). ``None``: not ours to track
    (the order is not mirrored, or a return we are creating ourselves and whose id is not recorded yet)."""
    case = session.scalar(select(ReturnCase).where(ReturnCase.shopify_gid == view.gid))
    if case is not None:
        _follow(session, case, view)
        return case
    order = session.scalar(select(Order).where(Order.shop_id == shop_id, Order.shopify_gid == view.order_gid))
    if order is None or view.status != "REQUESTED":
        return None
    return _customer_request(session, order, view, actor)


def line_gids(session: Session, case: ReturnCase) -> dict[int, str]:
    """The Shopify gid of each line of the return's order, by ledger id."""
    query = select(LineItem.id, LineItem.shopify_gid).where(LineItem.order_id == case.order_id)
    return dict(session.execute(query).all())


def _follow(session: Session, case: ReturnCase, view: ReturnView) -> None:
    case.shopify_status = view.status
    # By order line: one of ours may stand for several Shopify return lines (one per parcel it shipped in).
    gids = line_gids(session, case)
    for line in case.lines:
        gid = gids.get(line.line_item_id)
        seen = [v for v in view.lines if gid and v.line_item_gid == gid] or [
            v for v in view.lines if line.shopify_gid and v.gid == line.shopify_gid
        ]
        if seen:
            line.processed_quantity = min(sum(v.processed for v in seen), line.quantity)
    session.flush()
    if case.state in (rs.NEEDS_APPROVAL, rs.AWAITING_GOODS) and view.status == "CANCELED":
        rs.move(session, case, rs.CANCELED, actor="shopify:webhook", why="canceled on Shopify")
    elif case.state == rs.SHOPIFY_ACTION:
        enqueue_advance(session, case, tag=f"shopify:{view.status}:{view.processed_units}:{len(view.refunds)}")
    elif case.state == rs.AWAITING_GOODS and (view.status != "OPEN" or view.processed_units or view.refunds):
        # Closed, declined, processed or refunded on Shopify while dropsync waited for the goods: the plan
        # reads it again (closed: done; processed or refunded outside dropsync: a person, never a 2nd refund).
        why = (
            f"Shopify shows the return {view.status}, {view.processed_units} unit(s) processed, "
            f"{len(view.refunds)} refund(s), while it waited for the goods"
        )
        _start_action(session, case, actor="shopify:webhook", why=why)
    elif case.state == rs.NEEDS_APPROVAL and case.shopify_gid and view.status in ("OPEN", "DECLINED", "CLOSED"):
        # A person decided on Shopify (the admin) what waited for one here: dropsync carries that decision on
        # (approved: refund as the policy says; declined: declined; closed: read again), the approval alert ends.
        case.verdict = "decline" if view.status == "DECLINED" else "approve"
        if view.status == "DECLINED":
            case.decline_reason, case.decline_note = view.decline_reason or "OTHER", view.decline_note
        why = f"{view.status.lower()} on Shopify by a person while it waited for approval here"
        _start_action(session, case, actor="shopify:webhook", why=why)


def _customer_request(session: Session, order: Order, view: ReturnView, actor: str) -> ReturnCase:
    gids = {li.shopify_gid: li for li in order.line_items}
    items: dict[str, int] = {}
    for seen in view.lines:
        item = gids.get(seen.line_item_gid or "")
        if item is not None:
            items[str(item.id)] = items.get(str(item.id), 0) + seen.quantity
    reason = mapping.policy_reason(line.reason for line in view.lines)
    policy, now = configured_policy(), utcnow()
    decision = decide(session, order, reason, items, (), policy, now)
    shopify_reason = ",".join(sorted({line.reason for line in view.lines if line.reason})) or None
    note = "; ".join(n for n in (line.customer_note or line.reason_note for line in view.lines) if n) or None
    case = _new_case(
        session, order, reason=reason, source="customer", actor=actor, keep_item=False, note=note, decision=decision,
        policy=policy, shopify_reason=(shopify_reason or "")[:40] or None,
    )  # fmt: skip
    case.shopify_gid, case.name, case.shopify_status = view.gid, view.name, view.status
    # One row per order line: a line shipped in two parcels comes back as two Shopify return lines (one per
    # fulfillment line item); its row takes their units together, and the first one's ids and words.
    merged: dict[int, ReturnLine] = {}
    for seen in view.lines:
        item = gids.get(seen.line_item_gid or "")
        if item is None or seen.quantity <= 0:
            continue
        if (row := merged.get(item.id)) is not None:
            row.quantity += seen.quantity
            row.customer_note = "; ".join(n for n in (row.customer_note, seen.customer_note) if n) or None
            continue
        merged[item.id] = ReturnLine(
            line_item_id=item.id, shopify_gid=seen.gid, fulfillment_line_item_gid=seen.fulfillment_line_item_gid,
            quantity=seen.quantity, shopify_reason=seen.reason[:40] or None, customer_note=seen.customer_note,
        )  # fmt: skip
    case.lines.extend(merged.values())
    session.flush()
    _record_decision(session, case, decision, "policy")
    verdict = _verdict(decision)
    if verdict is None:
        rs.start(session, case, rs.NEEDS_APPROVAL, actor="policy", why="; ".join(decision.reasons) or "escalated")
        return case
    if verdict == "decline":
        _decline(case, decision)
        why = f"declined by the policy ({case.decline_reason}): {case.decline_note}"
    else:
        case.verdict = "approve"
        why = "approved by the policy"
    _start_action(session, case, actor="policy", why=why)
    return case


# -- a person decides, goods come back, resume ---------------------------------------------------------


def approve(session: Session, case: ReturnCase, actor: str, evidence: Iterable[ev.EvidenceItem] = ()) -> None:
    """A person approves an escalated return (with the amounts the rules computed, re-decided with any
    evidence given now)."""
    if case.state != rs.NEEDS_APPROVAL:
        raise RefusedError(f"return {case.id} is {case.state}: only a return waiting for approval can be approved")
    evidence = list(evidence)
    if evidence:
        ev.attach(session, case.order_id, evidence, actor, return_id=case.id)
        _redecide(session, case)
    case.verdict = "approve"
    _start_action(session, case, actor=actor, why="approved by a person")


def _redecide(session: Session, case: ReturnCase) -> None:
    order = session.get_one(Order, case.order_id)
    items = {str(line.line_item_id): line.quantity for line in case.lines}
    kinds = ev.of_return(session, case.id)
    if case.cancellation_request_id is not None:
        kinds |= ev.of_cancellation(session, case.cancellation_request_id)
    given = [ev.EvidenceItem(k) for k in kinds]
    policy = configured_policy()
    decision = decide(session, order, Reason(case.reason), items, given, policy, utcnow())
    case.policy_decision, case.policy_version = decision.to_dict(), policy.version
    _record_decision(session, case, decision, "policy")


def decline(session: Session, case: ReturnCase, actor: str, why: str) -> None:
    """A person declines: a customer's request is declined on Shopify with ``why`` as the note; an
    operator's return not yet on Shopify is simply denied."""
    if case.state != rs.NEEDS_APPROVAL:
        raise RefusedError(f"return {case.id} is {case.state}: only a return waiting for approval can be declined")
    if not why.strip():
        raise UsageError("--why: say why (the customer reads it)")
    if case.shopify_gid is None:
        rs.move(session, case, rs.DENIED, actor=actor, why=why)
        return
    case.verdict = "decline"
    case.decline_reason, case.decline_note = "OTHER", why[: mapping.DECLINE_NOTE_LIMIT]
    _start_action(session, case, actor=actor, why=f"declined by a person: {why}")


def goods_received(session: Session, case: ReturnCase, actor: str) -> None:
    """The goods came back to the return address: the refund goes ahead."""
    if case.state != rs.AWAITING_GOODS:
        raise RefusedError(f"return {case.id} is {case.state}: it is not waiting for goods")
    case.goods_received_at = utcnow()
    _start_action(session, case, actor=actor, why="goods received back")


def resume(session: Session, case: ReturnCase, actor: str) -> None:
    """A person fixed what the Shopify action needed (``needs_operator``): plan again from Shopify."""
    if case.state != rs.NEEDS_OPERATOR:
        raise RefusedError(f"return {case.id} is {case.state}: only a return handed to a person can be resumed")
    _start_action(session, case, actor=actor, why="resumed by a person")


def settle(session: Session, case: ReturnCase, actor: str, why: str) -> None:
    """A person ends a return handed to them (``needs_operator``) as done, with nothing more for dropsync to
    do on Shopify: e.g. it was refunded and closed in Shopify's admin (the customer's refunds are in the
    ledger through Shopify's refunds, whoever made them; dropsync's own ``refund_total`` stays what it
    refunded). Without it such a return could only go round: ``resume`` plans again and hands it back."""
    if case.state != rs.NEEDS_OPERATOR:
        raise RefusedError(f"return {case.id} is {case.state}: only a return handed to a person can be settled")
    if not why.strip():
        raise UsageError("--why: say what was done (it stays on the return's history)")
    rs.move(session, case, rs.DONE, actor=actor, why=f"settled by a person: {why.strip()}")


# -- a cancellation that came too late --------------------------------------------------------------------


def from_cancellation(session: Session, request: CancellationRequest, *, actor: str) -> ReturnCase | None:
    """The seller shipped: the cancellation request continues as a return (decided again by the policy,
    with the request's evidence; the customer keeps the goods unless the policy wants them back)."""
    order = session.get_one(Order, request.order_id)
    items = {str(i["line_id"]): int(i["quantity"]) for i in request.items} or None
    given = [ev.EvidenceItem(k) for k in ev.of_cancellation(session, request.id)]
    try:
        return request_return(
            session, order, reason=request.reason, items=items, evidence=given, actor=actor, note=request.note,
            source="cancellation", request_id=request.id,
        )  # fmt: skip
    except (RefusedError, UsageError) as exc:
        record_event(
            session, shop_id=order.shop_id, order_id=order.id, kind="return.not_opened", actor=actor,
            message=f"cancellation request {request.id} could not continue as a return: {exc}",
        )  # fmt: skip
        return None


def line_titles(session: Session, case: ReturnCase) -> dict[int, str]:
    ids = [line.line_item_id for line in case.lines]
    return dict(session.execute(select(LineItem.id, LineItem.title).where(LineItem.id.in_(ids))).all())
