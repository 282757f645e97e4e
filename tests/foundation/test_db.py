"""The shared seams: SAVEPOINTs only through ``worker.db``'s helper (and what it guards), alerts only through
``worker.alerts``."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import Alert
from models.types import utcnow
from tests.supplier.factories import make_shop
from worker.alerts import AlertSpec, raise_alert

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "worker"


def _outside_db() -> list[Path]:
    return [path for path in sorted(WORKER.rglob("*.py")) if (WORKER / "db") not in path.parents]


def test_no_savepoint_is_opened_outside_worker_db() -> None:
    """``Session.begin_nested()`` on SQLite is a trap (``worker.db.savepoints``): only the helper calls it."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _outside_db()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "begin_nested(" in line
    ]
    assert not offenders, "use worker.db.savepoint(session) instead:\n" + "\n".join(offenders)


def test_the_unit_of_work_type_is_defined_once() -> None:
    definition = re.compile(r"^\w+\s*=\s*Callable\[\[\],\s*(contextlib\.)?AbstractContextManager\[Session\]\]", re.M)
    offenders = [str(path.relative_to(ROOT)) for path in _outside_db() if definition.search(path.read_text())]
    assert not offenders, "import worker.db.UnitOfWork instead:\n" + "\n".join(offenders)


def test_alerts_are_written_only_by_worker_alerts() -> None:
    """One path raises and resolves alerts (timeline event, log line, metric, notifications every time)."""
    writes = re.compile(r"\bAlert\(|update\(Alert\)|\balert\.resolved_at\s*=")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(WORKER.rglob("*.py"))
        if path != WORKER / "alerts.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if writes.search(line)
    ]
    assert not offenders, "raise or resolve through worker.alerts:\n" + "\n".join(offenders)


def test_an_alert_raised_first_in_a_transaction_rolls_back_with_it(committed_db: Engine) -> None:
    """On SQLite a SAVEPOINT that opens the transaction *is* the transaction, and its RELEASE commits: an
    alert raised that way outlived the rollback of the unit of work that raised it."""
    with Session(committed_db) as session:
        shop_id = make_shop(session).id
        session.commit()
    spec = AlertSpec(shop_id, None, None, "poll_failing", "warning", "m", None, "test:first-write", "supplier order")
    with Session(committed_db) as session:
        assert raise_alert(session, spec, utcnow(), actor="test") is not None
        session.rollback()
    with Session(committed_db) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
