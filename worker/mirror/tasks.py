"""Mirror tasks: thin boundaries that open the unit of work and call one service function."""

from __future__ import annotations

import structlog

from worker.celery_app import app
from worker.db import session_scope
from worker.mirror import inbox

log = structlog.get_logger(__name__)


@app.task(name="mirror.drain_inbox")
def drain_inbox() -> int:
    """Apply every unhandled webhook delivery (also the beat sweeper for publishes that were lost)."""
    handled = inbox.drain(session_scope)
    with session_scope() as session:
        inbox.observe_lag(session)
    if handled:
        log.info("inbox drained", deliveries=handled)
    return handled
