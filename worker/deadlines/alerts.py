"""Raising deadline alerts, each exactly once.

``Alert.dedupe_key`` is ``deadline:{kind}:{stage}:{supplier order id}:{due date}``: the same deadline at
the same stage never alerts twice however often the task runs, a deadline that moves (an extension, a
new claim) alerts again, and "near" then "passed" are two alerts. Alerts whose condition is gone (the
parcel arrived, the refund came) are marked resolved. A dispute window that follows a settled dispute (a
later refund of the same supplier order: same completion, same end) is a new deadline, keyed
``…:after-dispute-{id}`` after the last dispute it follows, so it alerts again. Raising and resolving go
through :mod:`worker.alerts` (timeline, log line, metric, notifications); the ``dropsync_deadlines_due``
gauge shows what is near or passed right now.

Besides deadlines, two things need a person and alert the same way: an unknown AliExpress status
(``status_unknown:…``, once per distinct raw value) and a supplier order that keeps failing to poll.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import Alert, Order, SupplierOrder
from worker.alerts import AlertSpec, raise_alert, resolve_alert
from worker.deadlines.rules import DISPUTE_WINDOW, KINDS, DeadlinePolicy, Finding, findings
from worker.observability.metrics import DEADLINES_DUE

POLL_FAILURES_ALERT = 5


@dataclass(frozen=True)
class Attention:
    """One thing a person should act on (the ``dropsync deadlines`` rows)."""

    supplier_order: SupplierOrder
    order_name: str | None
    finding: Finding
    dedupe_key: str


def _open_orders(session: Session) -> list[SupplierOrder]:
    """Supplier orders that can still need someone: not closed, closed-cancelled awaiting a refund, in a
    dispute window, or carrying a status dropsync does not know (a closed one is never polled again)."""
    query = select(SupplierOrder).where(
        (SupplierOrder.status.not_in(st.CLOSED_STATES))
        | ((SupplierOrder.status == st.CLOSED_CANCELLED) & SupplierOrder.refund_due_at.is_not(None))
        | SupplierOrder.dispute_window_ends_at.is_not(None)
        | SupplierOrder.status_unknown.is_(True)  # closed, but with a value dropsync does not know
    )
    return list(session.scalars(query.order_by(SupplierOrder.id)))


def _extra(so: SupplierOrder, now: dt.datetime) -> list[tuple[Finding, str]]:
    out = []
    if so.status_unknown:
        raw = "/".join(v or "-" for v in (so.raw_status, so.raw_end_reason, so.raw_logistics_status))
        message = f"AliExpress reports {raw}, which dropsync does not know: check the order on AliExpress"
        out.append((Finding("status_unknown", "passed", now, message, "warning"), f"status_unknown:{so.id}:{raw}"))
    if so.poll_failures >= POLL_FAILURES_ALERT:
        message = f"polling has failed {so.poll_failures} times in a row: {so.last_poll_error}"
        key = f"poll_failing:{so.id}:{(so.last_poll_error or '')[:120]}"
        out.append((Finding("poll_failing", "passed", now, message, "warning"), key))
    return out


def needing_attention(session: Session, now: dt.datetime, policy: DeadlinePolicy) -> list[Attention]:
    """Everything near or passed at ``now``, most urgent first (passed before near, then by due time)."""
    rows = []
    orders = _open_orders(session)
    order_ids = {so.order_id for so in orders if so.order_id is not None}
    query = select(Order.id, Order.name).where(Order.id.in_(order_ids))
    names: dict[int, str] = {row.id: row.name for row in session.execute(query)}
    for so in orders:
        name = names.get(so.order_id) if so.order_id else None
        for finding in findings(so, now, policy):
            rows.append(Attention(so, name, finding, _dedupe_key(so, finding)))
        rows += [Attention(so, name, finding, key) for finding, key in _extra(so, now)]
    return sorted(rows, key=lambda a: (a.finding.stage != "passed", a.finding.due_at))


def _dedupe_key(so: SupplierOrder, finding: Finding) -> str:
    key = f"deadline:{finding.kind}:{finding.stage}:{so.id}:{finding.due_at:%Y-%m-%dT%H:%M}"
    if finding.kind == DISPUTE_WINDOW and so.disputes:  # all settled before this refund, or it would not be due
        key += f":after-dispute-{so.disputes[-1].id}"
    return key


def raise_due_alerts(session: Session, now: dt.datetime, policy: DeadlinePolicy) -> list[Alert]:
    """Raise every alert not raised before; resolve alerts whose condition is gone. Flushes only."""
    attention = needing_attention(session, now, policy)
    keys = {a.dedupe_key for a in attention}
    existing = set(session.scalars(select(Alert.dedupe_key).where(Alert.dedupe_key.in_(keys)))) if keys else set()
    raised = [alert for a in attention if a.dedupe_key not in existing and (alert := _raise(session, a, now))]
    _resolve_gone(session, keys, now)
    counts = dict.fromkeys((*KINDS, "status_unknown", "poll_failing"), 0)
    for a in attention:
        counts[a.finding.kind] = counts.get(a.finding.kind, 0) + 1
    for kind, count in counts.items():
        DEADLINES_DUE.labels(kind).set(count)
    return raised


def _raise(session: Session, attention: Attention, now: dt.datetime) -> Alert | None:
    so, finding = attention.supplier_order, attention.finding
    kind = f"{finding.kind}_{finding.stage}" if finding.kind in KINDS else finding.kind
    where = f"{attention.order_name} / " if attention.order_name else ""
    return raise_alert(
        session,
        AlertSpec(
            shop_id=so.shop_id,
            order_id=so.order_id,
            supplier_order_id=so.id,
            kind=kind,
            severity=finding.severity,
            message=finding.message,
            due_at=finding.due_at,
            dedupe_key=attention.dedupe_key,
            subject=f"{where}supplier order {so.supplier_order_id}",
        ),
        now,
        actor="deadlines",
    )


#: The alerts this module owns (other features raise their own kinds: never resolve theirs).
OWN_PREFIXES = ("deadline:", "status_unknown:", "poll_failing:")


def _resolve_gone(session: Session, live_keys: set[str], now: dt.datetime) -> None:
    own = or_(*(Alert.dedupe_key.startswith(prefix) for prefix in OWN_PREFIXES))
    for alert in session.scalars(select(Alert).where(Alert.resolved_at.is_(None), own)):
        if alert.dedupe_key not in live_keys:
            resolve_alert(session, alert, now, actor="deadlines", why="no longer applies")
