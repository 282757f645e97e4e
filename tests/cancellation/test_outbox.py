"""The task outbox: published only after commit, never on rollback, deduplicated, relayed after a crash."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from models import OutboxMessage
from worker import outbox
from worker.db import session_scope


@pytest.fixture
def sent(committed_db: Engine) -> Iterator[list[tuple[str, list[Any]]]]:
    messages: list[tuple[str, list[Any]]] = []
    previous = outbox.set_publisher(lambda task, args: messages.append((task, args)))
    yield messages
    outbox.set_publisher(previous)


def _published_at(message_id: int) -> dt.datetime | None:
    with session_scope() as session:
        return session.get_one(OutboxMessage, message_id).published_at


def test_published_after_commit_and_marked(sent: list[tuple[str, list[Any]]]) -> None:
    with session_scope() as session:
        message = outbox.enqueue(session, "cancellation.advance", [7])
        assert message is not None
        assert sent == []  # not while the transaction is open
        message_id = message.id
    assert sent == [("cancellation.advance", [7])]
    assert _published_at(message_id) is not None


def test_rolled_back_work_publishes_nothing(sent: list[tuple[str, list[Any]]]) -> None:
    def failing_unit_of_work() -> None:
        with session_scope() as session:
            outbox.enqueue(session, "cancellation.advance", [8])
            raise RuntimeError("the unit of work failed")

    with pytest.raises(RuntimeError):
        failing_unit_of_work()
    assert sent == []
    with session_scope() as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_dedupe_key_enqueues_once(sent: list[tuple[str, list[Any]]]) -> None:
    with session_scope() as session:
        assert outbox.enqueue(session, "t", [1], dedupe_key="k1") is not None
        assert outbox.enqueue(session, "t", [1], dedupe_key="k1") is None
    with session_scope() as session:
        assert outbox.enqueue(session, "t", [1], dedupe_key="k1") is None
    assert sent == [("t", [1])]


def test_relay_publishes_what_the_hook_could_not(sent: list[tuple[str, list[Any]]]) -> None:
    def broker_down(task: str, args: list[Any]) -> None:
        raise ConnectionError("broker unreachable")

    outbox.set_publisher(broker_down)
    with session_scope() as session:  # committed; the after-commit publish fails quietly
        message = outbox.enqueue(session, "cancellation.execute_intent", [3])
        assert message is not None
        message_id = message.id
    assert _published_at(message_id) is None
    outbox.set_publisher(lambda task, args: sent.append((task, args)))
    with session_scope() as session:
        assert outbox.relay(session) == 0  # within the grace period: the hook may still be publishing
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    with session_scope() as session:
        assert outbox.relay(session, now=later) == 1
    with session_scope() as session:
        assert outbox.relay(session, now=later) == 0
    assert sent == [("cancellation.execute_intent", [3])]
    assert _published_at(message_id) is not None


def test_many_rows_in_one_transaction_all_published_after_it(sent: list[tuple[str, list[Any]]]) -> None:
    # Each enqueue releases its own SAVEPOINT (PostgreSQL), which fires after_commit too: none of those
    # may publish (or swallow) the pending rows before the real commit.
    with session_scope() as session:
        for i in range(50):
            outbox.enqueue(session, "t", [i], dedupe_key=f"many:{i}")
        assert sent == []
    assert sorted(args[0] for _, args in sent) == list(range(50))
