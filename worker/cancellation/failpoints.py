"""Test failpoints: kill the process at a named point of the execution path (crash tests only).

``DROPSYNC_FAILPOINT=after_claim|after_mutation|after_commit`` SIGKILLs the current process when the
executor reaches that point (only for intents of kind ``DROPSYNC_FAILPOINT_KIND`` when that is set, e.g.
``return_process`` to kill the return's refund step and not the approval before it); with
``DROPSYNC_FAILPOINT_MARKER=/path`` it fires only once (the marker file
is created just before dying), so the restarted worker runs through. Unset in production: a no-op.

- ``after_claim``: the intent is committed ``submitting``, Shopify not called yet;
- ``after_mutation``: Shopify applied the mutation, our verdict is not committed;
- ``after_commit``: the verdict is committed, the task message not acknowledged yet.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

POINTS = ("after_claim", "after_mutation", "after_commit")


def failpoint(name: str, kind: str | None = None) -> None:
    if os.environ.get("DROPSYNC_FAILPOINT") != name:
        return
    wanted = os.environ.get("DROPSYNC_FAILPOINT_KIND")
    if wanted and kind != wanted:
        return
    marker = os.environ.get("DROPSYNC_FAILPOINT_MARKER")
    if marker:
        path = Path(marker)
        if path.exists():
            return
        path.write_text(f"{name} {os.getpid()}\n")
    os.kill(os.getpid(), signal.SIGKILL)
