"""Transactions PostgreSQL aborts for another's sake (deadlock, serialization failure) are run again."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from models import Heartbeat
from models.types import utcnow
from tests.support.database import abort_as
from worker.db import session_scope
from worker.db.transient import ATTEMPTS, is_transient, run_transaction
from worker.observability.metrics import DB_TRANSACTIONS_RETRIED

pytestmark = pytest.mark.postgres


def retried(what: str) -> float:
    return DB_TRANSACTIONS_RETRIED.labels(what)._value.get()


@pytest.fixture
def two_rows(committed_db: Engine) -> tuple[str, str]:
    with session_scope() as session:
        session.add_all([Heartbeat(name="left", seen_at=utcnow()), Heartbeat(name="right", seen_at=utcnow())])
    return "left", "right"


def test_two_transactions_locking_rows_in_opposite_orders_both_commit(two_rows: tuple[str, str]) -> None:
    """A real deadlock: each transaction holds one row and waits for the other's. The server aborts one;
    it runs again once the other has committed, and both changes are there."""
    barrier = threading.Barrier(2, timeout=10)
    runs = {"forward": 0, "backward": 0}
    errors: list[BaseException] = []
    before = retried("crossing")

    def touch(name: str, rows: tuple[str, str]) -> None:
        def work(session: Session) -> None:
            runs[name] += 1
            for number, row in enumerate(rows):
                session.execute(text("UPDATE heartbeats SET detail = :d WHERE name = :n"), {"d": name, "n": row})
                if number == 0 and runs[name] == 1:
                    barrier.wait()  # both hold their first row before either asks for its second

        try:
            run_transaction(session_scope, work, what="crossing")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=touch, args=("forward", two_rows)),
               threading.Thread(target=touch, args=("backward", two_rows[::-1]))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert sorted(runs.values()) == [1, 2]  # one was aborted once, then ran again
    assert retried("crossing") == before + 1
    with session_scope() as session:
        by = {h.name: h.detail for h in session.scalars(select(Heartbeat))}
    last = max(runs, key=lambda name: runs[name])  # the one run again committed last
    assert by == {"left": last, "right": last}


def test_a_transaction_aborted_every_time_fails_after_its_attempts(committed_db: Engine) -> None:
    runs = 0

    def work(session: Session) -> None:
        nonlocal runs
        runs += 1
        abort_as(session, "40001")

    with pytest.raises(DBAPIError) as raised:
        run_transaction(session_scope, work, what="always aborted")
    assert is_transient(raised.value)
    assert runs == ATTEMPTS


def test_any_other_database_error_is_raised_at_once_and_rolled_back(two_rows: tuple[str, str]) -> None:
    runs = 0

    def work(session: Session) -> None:
        nonlocal runs
        runs += 1
        session.add(Heartbeat(name="third", seen_at=utcnow()))
        session.flush()
        session.add(Heartbeat(name=two_rows[0], seen_at=utcnow()))
        session.flush()

    with pytest.raises(IntegrityError):
        run_transaction(session_scope, work, what="duplicate")
    assert runs == 1
    with session_scope() as session:
        assert session.get(Heartbeat, "third") is None


def test_an_abort_raised_by_the_driver_s_own_cursor_is_run_again_too(committed_db: Engine) -> None:
    """``worker.db.bulk`` writes through the driver's cursor (``COPY``): its errors are the driver's, not
    wrapped by SQLAlchemy, and a deadlock there is as transient."""
    runs = 0

    def work(session: Session) -> int:
        nonlocal runs
        runs += 1
        if runs == 1:
            cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'aborted' USING ERRCODE = '40P01'; END $$")
        return runs

    assert run_transaction(session_scope, work, what="raw cursor") == 2
