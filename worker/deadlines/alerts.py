"""Raising deadline alerts, each exactly once.

``Alert.dedupe_key`` is ``deadline:{kind}:{stage}:{supplier order id}:{due date}``: the same deadline at
the same stage never alerts twice however often the task runs, a deadline that moves (an extension, a
new claim) alerts again, and "near" then "passed" are two alerts. Alerts whose condition is gone (the
parcel arrived, the refund came) are marked resolved. Every new alert is a timeline event, a log line
and a metric increment; the ``dropsync_deadlines_due`` gauge shows what is near or passed right now.

Besides deadlines, two things need a person and alert the same way: an unknown AliExpress status
(``status_unknown:…``, once per distinct raw value) and a supplier order that keeps failing to poll.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog
from sqlalchemy import Table, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.aliexpress import status as st
from models import Alert, Order, SupplierOrder, TimelineEvent
from models.types import utcnow
from worker.deadlines.rules import KINDS, DeadlinePolicy, Finding, findings
from worker.mirror.bulk import insert_rows, upsert
from worker.notify.outbox import enqueue_notifications
from worker.observability.metrics import ALERTS_RAISED, DEADLINES_DUE
from worker.timeline import record_event

log = structlog.get_logger(__name__)

POLL_FAILURES_ALERT = 5
ALERTS: Table = Alert.__table__  # type: ignore[assignment]
TIMELINE: Table = TimelineEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Attention:
    """One thing a person should act on (the ``dropsync deadlines`` rows)."""

    supplier_order: SupplierOrder
    order_name: str | None
    finding: Finding
    dedupe_key: str


def _open_orders(session: Session) -> list[SupplierOrder]:
    """Supplier orders that can still need someone: not closed, or closed-cancelled awaiting a refund."""
    query = select(SupplierOrder).where(
        (SupplierOrder.status.not_in(st.CLOSED_STATES))
        | ((SupplierOrder.status == st.CLOSED_CANCELLED) & SupplierOrder.refund_due_at.is_not(None))
        | SupplierOrder.dispute_window_ends_at.is_not(None)
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
            key = f"deadline:{finding.kind}:{finding.stage}:{so.id}:{finding.due_at:%Y-%m-%dT%H:%M}"
            rows.append(Attention(so, name, finding, key))
        rows += [Attention(so, name, finding, key) for finding, key in _extra(so, now)]
    return sorted(rows, key=lambda a: (a.finding.stage != "passed", a.finding.due_at))


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


@dataclass(frozen=True)
class AlertSpec:
    """What an alert says; ``subject`` names the order (and supplier order) on the timeline and outside."""

    shop_id: int
    order_id: int | None
    supplier_order_id: int | None
    kind: str
    severity: str
    message: str
    due_at: dt.datetime | None
    dedupe_key: str
    subject: str
    command: str | None = None


def raise_alert(
    session: Session, spec: AlertSpec, now: dt.datetime, *, actor: str, reopen: bool = False
) -> Alert | None:
    """Raise one alert (once per ``dedupe_key``): timeline, log, metric and its notifications. Flushes only.

    The notification outbox rows are written in this same transaction (``worker.notify.outbox``): an
    alert that commits is delivered outside dropsync, one that rolls back never is. With ``reopen``, a
    resolved alert under the same key whose condition came back is opened again (not notified again).
    """
    existing = session.scalar(select(Alert).where(Alert.dedupe_key == spec.dedupe_key))
    if existing is not None:
        if reopen and existing.resolved_at is not None:
            _reopen(session, existing, spec, now, actor)
        return None
    alert = Alert(
        shop_id=spec.shop_id,
        order_id=spec.order_id,
        supplier_order_id=spec.supplier_order_id,
        kind=spec.kind,
        severity=spec.severity,
        message=spec.message,
        due_at=spec.due_at,
        dedupe_key=spec.dedupe_key,
        raised_at=now,
        command=spec.command,
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        return None  # raised concurrently by another run: once is the rule, and it holds
    record_event(
        session,
        shop_id=spec.shop_id,
        order_id=spec.order_id,
        supplier_order_id=spec.supplier_order_id,
        kind="alert.raised",
        message=f"{spec.subject}: {spec.message}",
        actor=actor,
        data={"alert_id": alert.id, "kind": spec.kind, "due_at": spec.due_at.isoformat() if spec.due_at else None},
    )
    log.warning("alert.raised", kind=spec.kind, alert_id=alert.id, subject=spec.subject, message=spec.message)
    ALERTS_RAISED.labels(spec.kind).inc()
    enqueue_notifications(session, alert)
    return alert


def raise_new_alerts(session: Session, specs: list[AlertSpec], now: dt.datetime, *, actor: str) -> list[Alert]:
    """Raise alerts whose keys do not exist yet, the batch in two statements (a mirror batch of 500 orders
    seen for the first time must not pay five round trips per alert, nor an ORM flush of each). Same
    effects as :func:`raise_alert`; a key another run raised meanwhile is skipped (``ON CONFLICT DO
    NOTHING``: once is the rule). Returns the alerts raised, as transient objects (not in the session).
    """
    if not specs:
        return []
    rows = [
        {"shop_id": s.shop_id, "order_id": s.order_id, "supplier_order_id": s.supplier_order_id, "kind": s.kind,
         "severity": s.severity, "message": s.message, "due_at": s.due_at, "dedupe_key": s.dedupe_key,
         "raised_at": now, "command": s.command}
        for s in specs
    ]  # fmt: skip
    session.flush()  # the statements below are Core: pending rows they may refer to go first
    ids = dict(upsert(session, ALERTS, rows, conflict=["dedupe_key"], returning=["dedupe_key", "id"]))
    raised = [(Alert(id=ids[row["dedupe_key"]], **row), spec) for row, spec in zip(rows, specs, strict=True)
              if row["dedupe_key"] in ids]  # fmt: skip
    at = utcnow()
    events = [
        {"shop_id": s.shop_id, "order_id": s.order_id, "supplier_order_id": s.supplier_order_id,
         "kind": "alert.raised", "message": f"{s.subject}: {s.message}", "actor": actor, "occurred_at": at,
         "data": {"alert_id": a.id, "kind": s.kind, "due_at": s.due_at.isoformat() if s.due_at else None}}
        for a, s in raised
    ]  # fmt: skip
    insert_rows(session, TIMELINE, events)
    for alert, spec in raised:
        log.warning("alert.raised", kind=spec.kind, alert_id=alert.id, subject=spec.subject, message=spec.message)
        ALERTS_RAISED.labels(spec.kind).inc()
        enqueue_notifications(session, alert)
    return [alert for alert, _ in raised]


def _reopen(session: Session, alert: Alert, spec: AlertSpec, now: dt.datetime, actor: str) -> None:
    alert.resolved_at, alert.raised_at, alert.message, alert.due_at = None, now, spec.message, spec.due_at
    session.flush()
    record_event(
        session, shop_id=alert.shop_id, order_id=alert.order_id, supplier_order_id=alert.supplier_order_id,
        kind="alert.reopened", message=f"{spec.subject}: {spec.message}", actor=actor,
        data={"alert_id": alert.id, "kind": alert.kind},
    )  # fmt: skip


def resolve_alert(session: Session, alert: Alert, now: dt.datetime, *, actor: str, why: str) -> None:
    """The alert's condition is gone: resolved, and said so on the order's timeline. Flushes only."""
    if alert.resolved_at is not None:
        return
    alert.resolved_at = now
    session.flush()
    record_event(
        session, shop_id=alert.shop_id, order_id=alert.order_id, supplier_order_id=alert.supplier_order_id,
        kind="alert.resolved", message=f"resolved: {alert.message} ({why})", actor=actor,
        data={"alert_id": alert.id, "kind": alert.kind},
    )  # fmt: skip


#: The alerts this module owns (other features raise their own kinds: never resolve theirs).
OWN_PREFIXES = ("deadline:", "status_unknown:", "poll_failing:")


def _resolve_gone(session: Session, live_keys: set[str], now: dt.datetime) -> None:
    own = or_(*(Alert.dedupe_key.startswith(prefix) for prefix in OWN_PREFIXES))
    for alert in session.scalars(select(Alert).where(Alert.resolved_at.is_(None), own)):
        if alert.dedupe_key not in live_keys:
            resolve_alert(session, alert, now, actor="deadlines", why="no longer applies")
