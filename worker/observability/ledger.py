"""Gauges read from the ledger at scrape time: the database is the truth for these, not a process's memory.

A gauge set by whichever process last touched a row goes stale when that process dies, restarts or never
runs (a worker child killed mid-task keeps its last "max" value forever); reading the ledger on each
scrape cannot. Every query here is one indexed aggregate, run in one short read-only transaction with a
statement timeout on PostgreSQL, so a scrape stays cheap and a slow database cannot pile scrapes up.

If the database cannot be read, the scrape still answers: ``dropsync_ledger_metrics_up`` is 0 and the
ledger gauges are absent (absent, not zero: zero would claim "nothing is late").

Definitions:

* inbox lag: now − ``received_at`` of the oldest ``webhook_inbox`` row with ``handled_at`` NULL (0 if none);
* intents: ``shopify_intents`` rows per state, ``succeeded`` excepted (every other state listed, 0
  included); oldest live intent age, overall and per live state, from ``created_at``;
* deadlines due / overdue: unresolved ``alerts`` with a ``due_at`` per kind / those whose ``due_at`` passed;
* exposure per currency: what ``dropsync report exposure`` totals (``worker.cancellation.exposure.totals``):
  for each order whose supplier was paid, customer refunds − supplier refunds in the order's currency (a
  supplier refund linked only to a supplier order counts for that supplier order's order; amounts in other
  currencies are never netted), capped at what the suppliers still hold; orders where the supplier returned
  at least as much count 0, never negative (money recovered on one order does not cancel a loss on
  another), and an order refunded with no supplier paid has nothing to recover; plus the disputed amount
  and fee of every chargeback not won (``worker.chargebacks.exposure``).
  Recomputed at most once a minute (:data:`EXPOSURE_MAX_AGE_SECONDS`); the other gauges on every scrape.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, case, func, select, text
from sqlalchemy.orm import Session

from models import Alert, ShopifyIntent, WebhookDelivery
from models.cancellation import INTENT_STATES, LIVE_INTENT_STATES, IntentState
from models.types import utcnow
from worker.observability import metrics

log = structlog.get_logger(__name__)

STATEMENT_TIMEOUT_MS = 2000
#: Every state but ``succeeded``: succeeded intents are history that only grows (counting them would make
#: each scrape scan the whole table); the live states and ``failed`` (given up: an operator must look) stay
#: small and are read through the (state, next_attempt_at) index.
REPORTED_INTENT_STATES = tuple(state.value for state in INTENT_STATES if state is not IntentState.SUCCEEDED)
#: Exposure aggregates every refund ever recorded; it moves slowly, so it is recomputed at most this often.
EXPOSURE_MAX_AGE_SECONDS = 60.0
#: A scrape waits this long for the ledger, then answers without it (Prometheus's default timeout is 10 s).
READ_DEADLINE_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class LedgerSnapshot:
    """What the ledger says right now; plain values, so rendering is pure and testable."""

    oldest_unhandled_delivery: dt.datetime | None
    unhandled_deliveries: int
    intents_by_state: dict[str, int]
    oldest_live_intent_by_state: dict[str, dt.datetime]
    deadlines_due: dict[str, int]
    deadlines_overdue: dict[str, int]
    alerts_open: dict[tuple[str, str], int]
    exposure: dict[str, Decimal]


def read_snapshot(conn: Connection, now: dt.datetime, exposure: dict[str, Decimal] | None = None) -> LedgerSnapshot:
    """Read every gauge; ``exposure`` is reused instead of re-aggregated when the caller has a fresh one."""
    oldest, unhandled = _inbox(conn)
    counts, oldest_live = _intents(conn)
    due, overdue, open_alerts = _alerts(conn, now)
    exposure = _exposure(conn) if exposure is None else exposure
    return LedgerSnapshot(oldest, unhandled, counts, oldest_live, due, overdue, open_alerts, exposure)


def _inbox(conn: Connection) -> tuple[dt.datetime | None, int]:
    row = conn.execute(
        select(func.min(WebhookDelivery.received_at), func.count()).where(WebhookDelivery.handled_at.is_(None))
    ).one()
    return row[0], int(row[1])


def _intents(conn: Connection) -> tuple[dict[str, int], dict[str, dt.datetime]]:
    counts = dict.fromkeys(REPORTED_INTENT_STATES, 0)
    by_state = (
        select(ShopifyIntent.state, func.count())
        .where(ShopifyIntent.state.in_(REPORTED_INTENT_STATES))
        .group_by(ShopifyIntent.state)
    )
    for state, count in conn.execute(by_state):
        counts[state] = int(count)
    oldest = conn.execute(
        select(ShopifyIntent.state, func.min(ShopifyIntent.created_at))
        .where(ShopifyIntent.state.in_(LIVE_INTENT_STATES))
        .group_by(ShopifyIntent.state)
    )
    return counts, {state: created for state, created in oldest if created is not None}


def _alerts(conn: Connection, now: dt.datetime) -> tuple[dict[str, int], dict[str, int], dict[tuple[str, str], int]]:
    rows = conn.execute(
        select(
            Alert.kind,
            Alert.severity,
            func.count(),
            func.count(Alert.due_at),
            func.sum(case((Alert.due_at <= now, 1), else_=0)),
        )
        .where(Alert.resolved_at.is_(None))
        .group_by(Alert.kind, Alert.severity)
    )
    due: dict[str, int] = {}
    overdue: dict[str, int] = {}
    open_alerts: dict[tuple[str, str], int] = {}
    for kind, severity, total, with_due, passed in rows:
        open_alerts[(kind, severity)] = int(total)
        due[kind] = due.get(kind, 0) + int(with_due)
        overdue[kind] = overdue.get(kind, 0) + int(passed or 0)
    return due, overdue, open_alerts


def _exposure(conn: Connection) -> dict[str, Decimal]:
    # The same rows and the same sum as ``dropsync report exposure``: the two can never disagree.
    from worker.cancellation.exposure import exposures, totals

    with Session(bind=conn) as session:
        return totals(exposures(session))


def _family(gauge: object, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    described = gauge.describe()[0]  # type: ignore[attr-defined]
    return GaugeMetricFamily(described.name, described.documentation, labels=list(labels))


def render(snapshot: LedgerSnapshot, now: dt.datetime) -> list[Metric]:
    """The snapshot as metric families named and documented by ``worker.observability.metrics``."""
    lag = _family(metrics.INBOX_LAG_SECONDS)
    oldest = snapshot.oldest_unhandled_delivery
    lag.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
    unhandled = _family(metrics.INBOX_UNHANDLED)
    unhandled.add_metric([], snapshot.unhandled_deliveries)
    intents = _family(metrics.INTENTS, ["state"])
    for state, count in snapshot.intents_by_state.items():
        intents.add_metric([state], count)
    oldest_live = _family(metrics.INTENT_OLDEST_LIVE_SECONDS)
    ages = {state: max((now - at).total_seconds(), 0.0) for state, at in snapshot.oldest_live_intent_by_state.items()}
    oldest_live.add_metric([], max(ages.values(), default=0.0))
    oldest_by_state = _family(metrics.INTENT_OLDEST_SECONDS, ["state"])
    for state in LIVE_INTENT_STATES:
        oldest_by_state.add_metric([state], ages.get(state, 0.0))
    alerts = _render_alerts(snapshot)
    return [lag, unhandled, intents, oldest_live, oldest_by_state, *alerts, _render_exposure(snapshot)]


def _render_alerts(snapshot: LedgerSnapshot) -> list[Metric]:
    due = _family(metrics.DEADLINES_DUE, ["kind"])
    for kind, count in sorted(snapshot.deadlines_due.items()):
        due.add_metric([kind], count)
    overdue = _family(metrics.DEADLINES_OVERDUE, ["kind"])
    for kind, count in sorted(snapshot.deadlines_overdue.items()):
        overdue.add_metric([kind], count)
    open_alerts = _family(metrics.ALERTS_OPEN, ["kind", "severity"])
    for (kind, severity), count in sorted(snapshot.alerts_open.items()):
        open_alerts.add_metric([kind, severity], count)
    return [due, overdue, open_alerts]


def _render_exposure(snapshot: LedgerSnapshot) -> Metric:
    exposure = _family(metrics.EXPOSURE_TOTAL, ["currency"])
    for currency, amount in sorted(snapshot.exposure.items()):
        # Prometheus samples are floats: the one place money leaves Decimal, for display only.
        exposure.add_metric([currency], float(amount))
    return exposure


class LedgerCollector(Collector):
    """Registered on the web process's scrape registry; queries the ledger once per scrape.

    The read runs on a background thread with a deadline (:data:`READ_DEADLINE_SECONDS`): a database
    that hangs (a blackholed host waits for the TCP timeout) must not hang ``/metrics`` past Prometheus's
    scrape timeout, which would read as "the web process is down". While a stuck read is still running,
    later scrapes report ``dropsync_ledger_metrics_up 0`` at once instead of piling up more threads.
    """

    def __init__(
        self,
        engine: Callable[[], Engine],
        exposure_max_age: float = EXPOSURE_MAX_AGE_SECONDS,
        deadline: float = READ_DEADLINE_SECONDS,
    ) -> None:
        self._engine = engine
        self._exposure_max_age = exposure_max_age
        self._deadline = deadline
        self._exposure: tuple[float, dict[str, Decimal]] | None = None
        self._pending: Future[LedgerSnapshot] | None = None
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []  # no query at registration time

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("dropsync_ledger_metrics_up", "1 if the last scrape could read the ledger")
        seconds = GaugeMetricFamily("dropsync_ledger_metrics_seconds", "Time the last ledger scrape took")
        now = utcnow()
        try:
            snapshot = self._read_within_deadline(now)
        except Exception as exc:
            log.warning("ledger metrics unavailable", error=_one_line(exc))
            up.add_metric([], 0)
        else:
            yield from render(snapshot, now)
            up.add_metric([], 1)
        seconds.add_metric([], time.perf_counter() - started)
        yield up
        yield seconds

    def _read_within_deadline(self, now: dt.datetime) -> LedgerSnapshot:
        with self._lock:
            if self._pending is not None and not self._pending.done():
                raise TimeoutError("the previous ledger read is still running")
            pending: Future[LedgerSnapshot] = Future()
            self._pending = pending
            # A daemon thread, not an executor's: a read stuck in connect() must not delay process exit.
            threading.Thread(target=self._run, args=(pending, now), name="ledger-metrics", daemon=True).start()
        try:
            return pending.result(timeout=self._deadline)
        except FutureTimeout:
            raise TimeoutError(f"ledger read took longer than {self._deadline:g}s") from None

    def _run(self, pending: Future[LedgerSnapshot], now: dt.datetime) -> None:
        try:
            pending.set_result(self._read(now))
        except BaseException as exc:
            pending.set_exception(exc)

    def _read(self, now: dt.datetime) -> LedgerSnapshot:
        engine = self._engine()
        with engine.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
            cached = self._exposure
            fresh = cached is not None and time.monotonic() - cached[0] < self._exposure_max_age
            snapshot = read_snapshot(conn, now, cached[1] if fresh and cached else None)
            if not fresh:
                self._exposure = (time.monotonic(), snapshot.exposure)
            return snapshot


def _one_line(exc: BaseException) -> str:
    text_ = str(exc).strip()
    return text_.splitlines()[0] if text_ else type(exc).__name__
