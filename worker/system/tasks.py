"""Housekeeping tasks that every deployment runs."""

from __future__ import annotations

import os
import socket

import structlog

from worker.celery_app import app
from worker.db import session_scope
from worker.system.service import record_heartbeat

log = structlog.get_logger(__name__)


@app.task(name="system.heartbeat")
def heartbeat() -> None:
    """Beat's proof of life: a worker consumed a scheduled message and could write the ledger."""
    with session_scope() as session:
        record_heartbeat(session, "worker", f"{socket.gethostname()}:{os.getpid()}")
