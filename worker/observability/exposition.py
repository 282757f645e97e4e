"""What each process's ``/metrics`` shows.

* The web process: its own registry (HTTP and webhook counters…) plus the ledger gauges computed at scrape
  time (``worker.observability.ledger``). If ``PROMETHEUS_MULTIPROC_DIR`` is set, the process registry is
  read from that directory instead (several web processes behind one endpoint).
* The worker: the files every pool child writes in ``PROMETHEUS_MULTIPROC_DIR``, merged by
  ``MultiProcessCollector`` (task, Shopify and supplier counters…). The ledger gauges are left out there:
  a child's last "max" value outlives the child, the ledger does not lie.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from worker.observability import metrics
from worker.observability.ledger import LedgerCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LEDGER_METRIC_NAMES = frozenset(next(iter(gauge.describe())).name for gauge in metrics.LEDGER_GAUGES)
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


class ScrapeView(Collector):
    """A registry-like view: the metrics of ``sources`` minus ``exclude``, then ``extra`` collectors."""

    def __init__(
        self, sources: Iterable[Collector], extra: Iterable[Collector] = (), exclude: frozenset[str] = frozenset()
    ) -> None:
        self._sources = list(sources)
        self._extra = list(extra)
        self._exclude = exclude

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            for metric in source.collect():
                if metric.name not in self._exclude:
                    yield metric
        for collector in self._extra:
            yield from collector.collect()


def render(view: ScrapeView) -> bytes:
    return generate_latest(view)


def multiproc_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def multiprocess_registry(path: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry


def web_view(engine: Callable[[], Engine]) -> ScrapeView:
    """The web process's ``/metrics``: process metrics (without the declared ledger gauges) + the ledger."""
    path = multiproc_dir()
    source: Collector = multiprocess_registry(path) if path else REGISTRY
    return ScrapeView([source], extra=[LedgerCollector(engine)], exclude=LEDGER_METRIC_NAMES)


class _WorkerCollector(Collector):
    """Merges the pool children's files; first forgets live gauges of children that died without notice."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._collector = multiprocess.MultiProcessCollector(None, path=path)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        forget_dead_processes(self._path)
        metrics: Iterable[Metric] = self._collector.collect()  # type: ignore[no-untyped-call]
        return metrics


def worker_view(path: str) -> ScrapeView:
    return ScrapeView([_WorkerCollector(path)], exclude=LEDGER_METRIC_NAMES)


def forget_dead_processes(path: str) -> list[int]:
    """``mark_process_dead`` for every pid with ``livesum``/``liveall`` files that no longer runs.

    A child killed by SIGKILL or a hard time limit never runs its shutdown hook; without this its live
    gauges would be summed forever. Counters of dead children are kept on purpose (they are history).
    """
    dead: set[int] = set()
    for entry in Path(path).glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.match(entry.name)
        if match and not _pid_alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
    return sorted(dead)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
