"""Beat-driven deadline checks."""

from __future__ import annotations

from worker import clock
from worker.celery_app import app
from worker.db import session_scope
from worker.deadlines.alerts import raise_due_alerts
from worker.deadlines.rules import DeadlinePolicy


@app.task(name="deadlines.raise_alerts")
def raise_alerts() -> int:
    """Raise each near-or-passed supplier deadline once (timeline + log + metric)."""
    with session_scope() as session:
        return len(raise_due_alerts(session, clock.now(), DeadlinePolicy.from_settings()))
