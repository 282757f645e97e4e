"""The real Celery app plus one test task, for worker crash tests (``celery -A tests.support.crash_app``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from worker.celery_app import app

__all__ = ["app", "record_and_sleep"]


@app.task(name="tests.record_and_sleep")
def record_and_sleep(marker: str, seconds: float) -> None:
    """Append 'start <pid>' to the marker file, sleep, then append 'done' (each attempt is visible)."""
    path = Path(marker)
    with path.open("a") as fh:
        fh.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    with path.open("a") as fh:
        fh.write("done\n")
