"""dropsync's "now": the real clock, or in development and tests the AliExpress sandbox's clock.

With ``DROPSYNC_SANDBOX_CLOCK_URL`` (e.g. ``http://127.0.0.1:8702/_sandbox/clock``; refused when
``DROPSYNC_ENV=production``) every deadline, poll and cross-check reads the sandbox's time, so advancing
the sandbox clock by a week (``POST /_sandbox/clock {"days": 7}``) moves dropsync's deadlines by a week
too: one clock the stack shares. The sandbox's offset from the real clock is read at most once a second.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import httpx
import structlog

from models.types import utcnow
from worker.settings import get_settings

log = structlog.get_logger(__name__)

REFRESH_SECONDS = 1.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, dt.timedelta]] = {}


def now() -> dt.datetime:
    url = get_settings().sandbox_clock_url
    if not url:
        return utcnow()
    return utcnow() + _offset(url)


def _offset(url: str) -> dt.timedelta:
    with _lock:
        cached = _cache.get(url)
        if cached is not None and time.monotonic() - cached[0] < REFRESH_SECONDS:
            return cached[1]
    try:
        answer = httpx.get(url, timeout=2.0)
        answer.raise_for_status()
        sandbox_now = dt.datetime.fromisoformat(answer.json()["now"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        log.warning("clock.sandbox_unreachable", error=type(exc).__name__)
        return cached[1] if cached is not None else dt.timedelta(0)
    offset = sandbox_now - utcnow()
    with _lock:
        _cache[url] = (time.monotonic(), offset)
    return offset
