"""Checked when a worker or beat starts: the secret key opens every stored credential.

Imported through ``TASK_MODULES`` (it defines no task), like ``worker.policy.startup``.
"""

from __future__ import annotations

import sys
from typing import Any

from celery.signals import beat_init, worker_init

from worker.db import get_engine
from worker.secrets import SecretKeyError, check_stored_credentials


def refuse_unreadable_credentials(**_: Any) -> None:
    """Celery ``worker_init``/``beat_init``: stop at start-up, one line, when the key cannot open them."""
    try:
        check_stored_credentials(get_engine())
    except SecretKeyError as exc:
        sys.stderr.write(f"dropsync: configuration error: {exc}\n")
        sys.stderr.flush()
        raise SystemExit(2) from None  # Celery would log and swallow any other exception


worker_init.connect(refuse_unreadable_credentials, weak=False)
beat_init.connect(refuse_unreadable_credentials, weak=False)
