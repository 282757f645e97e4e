"""Label values that cannot grow without bound, whatever a client sends.

Every distinct label value is a new time series kept in memory for the life of the process and printed
on every scrape: a label taken verbatim from a request (its method, a header) lets anyone on the network
grow the process and ``/metrics`` without limit (4,000 made-up methods once grew ``/metrics`` from 21 KB
to 7.4 MB). Labels come from a fixed set, or from a capped set that buckets the rest as ``other``.
"""

from __future__ import annotations

import threading

#: RFC 9110's methods plus PATCH; anything else is counted as ``OTHER``.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "OTHER"
OTHER = "other"


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else OTHER_METHOD


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"


class CappedLabels:
    """The first ``cap`` distinct values seen are kept as labels; later new values become ``other``.

    For labels whose values come from authenticated but not enumerable input (a verified webhook's topic):
    a legitimate deployment sees a few dozen; a compromised secret cannot turn that into unbounded memory.
    """

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self._cap and len(value) <= 100:
                self._seen.add(value)
                return value
        return OTHER
