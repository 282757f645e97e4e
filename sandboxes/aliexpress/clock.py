"""The sandbox's clock: starts at a fixed instant and moves only when a test says so."""

from __future__ import annotations

import datetime as dt
import threading

DEFAULT_START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


class SandboxClock:
    def __init__(self, start: dt.datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware datetime")
        self._now = start.astimezone(dt.UTC)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> dt.datetime:
        step = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < dt.timedelta(0):
            raise ValueError("the sandbox clock never goes backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            if when.astimezone(dt.UTC) < self._now:
                raise ValueError("the sandbox clock never goes backwards")
            self._now = when.astimezone(dt.UTC)


class WallClock(SandboxClock):
    """Real time plus whatever ``advance`` added: for a sandbox run by hand (``dropsync sandbox aliexpress``)."""

    def __init__(self) -> None:
        super().__init__(dt.datetime.now(dt.UTC))
        self._offset = dt.timedelta(0)

    def now(self) -> dt.datetime:
        with self._lock:
            return dt.datetime.now(dt.UTC) + self._offset

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> dt.datetime:
        step = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < dt.timedelta(0):
            raise ValueError("the sandbox clock never goes backwards")
        with self._lock:
            self._offset += step
        return self.now()

    def set(self, when: dt.datetime) -> None:
        self.advance(seconds=max((when - self.now()).total_seconds(), 0))
