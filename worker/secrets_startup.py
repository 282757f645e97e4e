"""Checked when a worker or beat starts: the secret key opens every stored credential.

Imported through ``TASK_MODULES`` (it defines no task), like ``worker.policy.startup``.
"""

from __future__ import annotations

from celery.signals import beat_init, worker_init

from worker.secrets import refuse_unreadable_credentials

worker_init.connect(refuse_unreadable_credentials, weak=False)
beat_init.connect(refuse_unreadable_credentials, weak=False)
