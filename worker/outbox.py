"""The task outbox: Celery tasks written in the caller's transaction, published only once it committed.

Publishing inside a transaction races the commit (the task runs before the row it needs exists) and
loses the message if the process dies between commit and publish. So:

- :func:`enqueue` adds a ``task_outbox`` row in the caller's transaction (flush only) and asks the
  session to publish it right after its commit (an ``after_commit`` hook);
- the beat task ``outbox.relay`` (:func:`relay`) publishes every row still unpublished a few seconds
  later: the process died after commit, the broker was down, the hook failed.

A row can therefore be published twice (hook and relay racing, or a crash between publish and the
``published_at`` update): every task fed by the outbox must be idempotent (the cancellation tasks are:
they work from intent rows). Task args are ids only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from sqlalchemy import Engine, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import OutboxMessage
from models.types import utcnow
from worker.db import savepoint

log = structlog.get_logger(__name__)

#: ``publish(task_name, args)``; the default sends to the Celery broker. Tests swap it.
Publisher = Callable[[str, list[Any]], None]
_PENDING_KEY = "dropsync_outbox_pending"
RELAY_GRACE = dt.timedelta(seconds=5)


def _celery_publish(task_name: str, args: list[Any]) -> None:
    from worker.celery_app import app

    app.send_task(task_name, args=args)


_publisher: list[Publisher] = [_celery_publish]


def set_publisher(publisher: Publisher | None) -> Publisher:
    """Replace the publisher (``None``: back to Celery); returns the previous one."""
    previous = _publisher[0]
    _publisher[0] = publisher or _celery_publish
    return previous


def enqueue(
    session: Session, task_name: str, args: Sequence[Any], dedupe_key: str | None = None
) -> OutboxMessage | None:
    """Write one task to publish after ``session`` commits. Flushes, never commits.

    ``dedupe_key`` (unique): a second enqueue with the same key is a no-op returning ``None`` (e.g. one
    execution message per intent attempt, however many hooks ask for it in one transaction).
    """
    if dedupe_key is not None:
        found = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
        if found is not None:
            return None
    message = OutboxMessage(task_name=task_name, args=list(args), dedupe_key=dedupe_key, created_at=utcnow())
    try:
        with savepoint(session):
            session.add(message)
            session.flush()
    except IntegrityError:
        return None  # the same dedupe key enqueued concurrently: once is the rule
    # Read by the class-level after_commit listener below (per-instance listeners are keyed by id() in
    # SQLAlchemy's registry and proved unreliable for short-lived sessions: messages went unpublished).
    session.info.setdefault(_PENDING_KEY, []).append(message.id)
    return message


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint rolled back: the outer transaction's rows still stand
    session.info.pop(_PENDING_KEY, None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    """Publish what this transaction enqueued. Never raises: the relay publishes what failed here."""
    if session.in_nested_transaction():
        return  # fired for a SAVEPOINT release (enqueue's own): the outer transaction is not committed yet
    ids = session.info.pop(_PENDING_KEY, [])
    if not ids:
        return
    engine = _engine_of(session)
    if engine is None:
        return  # bound to an outer connection (a test's savepoint): its commit is not final, the relay decides
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(OutboxMessage.id, OutboxMessage.task_name, OutboxMessage.args).where(OutboxMessage.id.in_(ids))
            ).all()
        published = _publish_rows(rows)
        _mark_published(engine, published)
    except Exception as exc:  # the relay publishes these: a broker hiccup must not fail a committed unit of work
        log.warning("outbox publish after commit failed; the relay will publish", error=str(exc), ids=ids)


def _engine_of(session: Session) -> Engine | None:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else None


def _publish_rows(rows: Sequence[Any]) -> list[int]:
    published = []
    for row in rows:
        try:
            _publisher[0](row.task_name, list(row.args))
        except Exception as exc:  # the broker is down: the row stays unpublished for the relay
            log.warning("outbox publish failed", task=row.task_name, id=row.id, error=str(exc))
            continue
        published.append(row.id)
    return published


def _mark_published(engine: Engine, ids: list[int]) -> None:
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(published_at=utcnow()))


def relay(session: Session, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Publish rows left unpublished for longer than ``RELAY_GRACE``; mark them. Flushes only.

    On PostgreSQL the rows are locked ``SKIP LOCKED``: two relays never publish the same row at once.
    """
    now = now or utcnow()
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.published_at.is_(None), OutboxMessage.created_at <= now - RELAY_GRACE)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    published = set(_publish_rows(rows))
    for row in rows:
        if row.id in published:
            row.published_at = now
    session.flush()
    return len(published)
