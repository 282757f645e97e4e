"""Alerts: the one path by which every feature raises and resolves what needs a person.

An alert is a row in ``alerts``, unique on its ``dedupe_key`` (the raising feature names the condition:
``deadline:…``, ``crosscheck:…``, ``chargeback:…``, ``cancellation:…``, ``returns:…``), so a condition
seen again and again alerts once. Raising one is, in the caller's transaction, the row, an
``alert.raised`` timeline event, a log line, the ``dropsync_alerts_raised_total`` counter and the
notification outbox rows (delivered after commit, ``worker.notify``); resolving one sets
``resolved_at`` and writes an ``alert.resolved`` timeline event. Everything here flushes, never commits.

Each feature resolves only the alerts it raised (by its key prefix) when their condition is gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Alert, TimelineEvent
from models.types import utcnow
from worker.db import has_savepoints, savepoint
from worker.db.bulk import insert_rows, upsert
from worker.notify.outbox import enqueue_notifications
from worker.observability.metrics import ALERTS_RAISED
from worker.timeline import record_event

log = structlog.get_logger(__name__)
ALERTS: Table = Alert.__table__  # type: ignore[assignment]
TIMELINE: Table = TimelineEvent.__table__  # type: ignore[assignment]


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
    resolved alert under the same key whose condition came back is opened again and notified again (the
    person who resolved it, or retried what it was about, must hear that it is back).
    """
    existing = session.scalar(select(Alert).where(Alert.dedupe_key == spec.dedupe_key))
    if existing is not None:
        if reopen and existing.resolved_at is not None:
            _reopen(session, existing, spec, now, actor)
        return None
    alert = _row(spec, now)
    if not _inserted(session, [alert]):
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
    _announce(session, alert, spec)
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
        _announce(session, alert, spec)
    return [alert for alert, _ in raised]


def raise_order_alert(
    session: Session,
    *,
    shop_id: int,
    order_id: int | None,
    kind: str,
    key: str,
    message: str,
    actor: str,
    severity: str = "warning",
    reopen: bool = False,
) -> bool:
    """A hand-over to a person, with no deadline (an intent that failed, a request or return stuck): one
    alert per ``key``, raised now. False when it was raised before (``reopen``: opened again if resolved)."""
    subject = f"order {order_id}" if order_id else "Shopify action"
    spec = AlertSpec(shop_id, order_id, None, kind, severity, message, None, key, subject)
    return raise_alert(session, spec, utcnow(), actor=actor, reopen=reopen) is not None


def _row(spec: AlertSpec, now: dt.datetime) -> Alert:
    return Alert(
        shop_id=spec.shop_id, order_id=spec.order_id, supplier_order_id=spec.supplier_order_id, kind=spec.kind,
        severity=spec.severity, message=spec.message, due_at=spec.due_at, dedupe_key=spec.dedupe_key,
        raised_at=now, command=spec.command,
    )  # fmt: skip


def _inserted(session: Session, alerts: list[Alert]) -> bool:
    """Insert ``alerts``; False when another run raised one of their keys first (the unique index refused)."""
    try:
        with savepoint(session):
            session.add_all(alerts)
            session.flush()
    except IntegrityError:
        if not has_savepoints(session):
            raise  # SQLite: the transaction is gone with the refused rows; the boundary runs it again
        return False
    return True


def _announce(session: Session, alert: Alert, spec: AlertSpec) -> None:
    """Log line, counter and notification outbox rows of a newly raised alert."""
    log.warning("alert.raised", kind=spec.kind, alert_id=alert.id, subject=spec.subject, message=spec.message)
    ALERTS_RAISED.labels(spec.kind).inc()
    enqueue_notifications(session, alert)


def _reopen(session: Session, alert: Alert, spec: AlertSpec, now: dt.datetime, actor: str) -> None:
    alert.resolved_at, alert.raised_at, alert.message, alert.due_at = None, now, spec.message, spec.due_at
    session.flush()
    _lifecycle_event(session, alert, "alert.reopened", f"{spec.subject}: {spec.message}", actor)
    log.warning("alert.reopened", kind=spec.kind, alert_id=alert.id, subject=spec.subject, message=spec.message)
    ALERTS_RAISED.labels(spec.kind).inc()
    enqueue_notifications(session, alert, again=True)


def resolve_alert(session: Session, alert: Alert, now: dt.datetime, *, actor: str, why: str) -> None:
    """The alert's condition is gone: resolved, and said so on the order's timeline. Flushes only."""
    if alert.resolved_at is not None:
        return
    alert.resolved_at = now
    session.flush()
    _lifecycle_event(session, alert, "alert.resolved", f"resolved: {alert.message} ({why})", actor)


def resolve_keyed(session: Session, prefix: str, *, actor: str, why: str) -> int:
    """Resolve every open alert whose dedupe key starts with ``prefix`` (a hand-over the person took up);
    how many. Flushes only."""
    found = session.scalars(select(Alert).where(Alert.resolved_at.is_(None), Alert.dedupe_key.startswith(prefix)))
    alerts = list(found)
    for alert in alerts:
        resolve_alert(session, alert, utcnow(), actor=actor, why=why)
    return len(alerts)


def keep_alerts(
    session: Session, prefix: str, specs: Sequence[AlertSpec], *, actor: str, gone: str,
    reasons: Mapping[str, str] | None = None,
) -> int:  # fmt: skip
    """Make the open alerts under ``prefix`` exactly ``specs`` (each keyed under it), for a condition checked
    again and again (one alert per supplier order of a request): each raised once, and opened and notified
    again if it was resolved and came back; every other open one resolved, saying why (``reasons`` by key,
    else ``gone``). How many were raised for the first time. Flushes only."""
    wanted, now = {spec.dedupe_key for spec in specs}, utcnow()
    still_open = session.scalars(select(Alert).where(Alert.resolved_at.is_(None), Alert.dedupe_key.startswith(prefix)))
    for alert in list(still_open):
        if alert.dedupe_key not in wanted:
            resolve_alert(session, alert, now, actor=actor, why=(reasons or {}).get(alert.dedupe_key, gone))
    return sum(raise_alert(session, spec, now, actor=actor, reopen=True) is not None for spec in specs)


#: States in which a request or a return waits for a person (or for goods a person must record): the
#: alerts raised while in one are keyed ``{family}:{state}:{id}:…`` and resolved when it is left.
WAITING_STATES = ("needs_approval", "needs_operator", "awaiting_goods")


@dataclass(frozen=True)
class HandOver:
    """A request or a return moving between states, for the alerts of the states that wait for a person."""

    family: str  # the dedupe keys' prefix: "cancellation", "returns"
    kind: str  # the alerts' kinds start with it: "cancellation" (_needs_approval), "return"
    label: str  # "cancellation request", "return"
    item_id: int
    shop_id: int
    order_id: int
    step: int  # how many states it has been through: a new alert per wait
    approve: str  # the command that approves it


def follow_hand_over(session: Session, move: HandOver, old: str | None, new: str, why: str, actor: str) -> None:
    """Waiting for a person's approval, or handed to a person (``needs_operator``), is being in front of one:
    an alert (notified), raised by the move itself so that no path into the state can skip it. Leaving a
    state that waited for a person (approval, a hand-over, goods a person records) resolves its alerts:
    ``dropsync check`` shows only what still waits."""
    if old in WAITING_STATES:
        prefix = f"{move.family}:{old}:{move.item_id}:"
        resolve_keyed(session, prefix, actor=actor, why=f"the {move.label} is {new} now")
    if new == "needs_approval":
        shown = why if len(why) <= 300 else why[:299] + "…"
        message = f"{move.label} {move.item_id} waits for a person's approval ({shown}): {move.approve}"
        _raise_hand_over(session, move, new, kind=f"{move.kind}_needs_approval", message=message)
    elif new == "needs_operator":
        message = f"{move.label} {move.item_id} needs a person: {why}"
        _raise_hand_over(session, move, new, kind=f"{move.kind}_needs_operator", message=message)


def _raise_hand_over(session: Session, move: HandOver, state: str, *, kind: str, message: str) -> None:
    """Put ``move``'s item in front of a person while it waits in ``state``: one alert per wait, keyed
    ``{family}:{state}:{id}:{step}`` and resolved by :func:`follow_hand_over` when the item leaves it."""
    key = f"{move.family}:{state}:{move.item_id}:{move.step}"
    spec = AlertSpec(move.shop_id, move.order_id, None, kind, "warning", message, None, key, f"order {move.order_id}")
    raise_alert(session, spec, utcnow(), actor=move.family)


def _lifecycle_event(session: Session, alert: Alert, kind: str, message: str, actor: str) -> None:
    record_event(
        session, shop_id=alert.shop_id, order_id=alert.order_id, supplier_order_id=alert.supplier_order_id,
        kind=kind, message=message, actor=actor, data={"alert_id": alert.id, "kind": alert.kind},
    )  # fmt: skip
