"""Beat-driven cross-checks."""

from __future__ import annotations

from worker import clock
from worker.celery_app import app
from worker.crosscheck.service import check_recent
from worker.db import session_scope


@app.task(name="crosscheck.run")
def run() -> int:
    """Check every order that can still disagree; raise and resolve alerts (beat)."""
    with session_scope() as session:
        return len(check_recent(session, clock.now()))
