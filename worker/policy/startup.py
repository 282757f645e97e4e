"""The policy the service runs with, checked when a worker or beat starts.

Imported by the Celery worker and beat through ``TASK_MODULES`` (it defines no task): a bad policy
file stops the process at start-up with the one-line message naming file, line, key and rule, instead
of failing every decision later.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from celery.signals import beat_init, worker_init

from worker.policy.loader import PolicyFileError, load_policy
from worker.policy.model import Policy
from worker.settings import get_settings

_log = logging.getLogger(__name__)
_cache: dict[tuple[str, int, int], Policy] = {}


def configured_policy() -> Policy:
    """The policy in ``DROPSYNC_POLICY_FILE`` (built-in default when unset), re-read when the file changes.

    Raises ``PolicyFileError``: a file broken after start-up stops decisions instead of silently
    deciding under an older version (every decision records the version it used).
    """
    path = get_settings().policy_file
    if not path:
        return load_policy(None)
    try:
        stat = Path(path).stat()
    except OSError:
        return load_policy(path)  # raises the one-line "does not exist / cannot be read"
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_policy(path)
    return _cache[key]


@worker_init.connect
@beat_init.connect
def refuse_a_bad_policy_file(**_: Any) -> None:
    try:
        policy = configured_policy()
    except PolicyFileError as exc:
        sys.stderr.write(f"dropsync: {exc}\n")
        sys.stderr.flush()
        # Celery logs and swallows a handler's exception; a bad policy must stop the process instead.
        raise SystemExit(2) from None
    _log.info("policy %s loaded from %s", policy.version, get_settings().policy_file or "the built-in default")
