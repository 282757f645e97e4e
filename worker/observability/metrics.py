"""Every Prometheus metric dropsync exports, declared once. Features import and update these.

Served on the web process at ``/metrics`` and by the worker (multiprocess mode: see
``worker.observability.multiproc`` for how ``PROMETHEUS_MULTIPROC_DIR`` is handled;
``LEDGER_GAUGES`` below are computed from the database at scrape time).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOKS_RECEIVED = Counter("dropsync_webhooks_received_total", "Webhook deliveries accepted into the inbox", ["topic"])
WEBHOOKS_DUPLICATE = Counter(
    "dropsync_webhooks_duplicate_total", "Webhook deliveries already in the inbox (same delivery id)", ["topic"]
)
WEBHOOKS_REJECTED = Counter(
    "dropsync_webhooks_rejected_total",
    "Webhook deliveries refused",
    ["reason"],  # bad_hmac, too_large, bad_json, unknown_shop, missing_header
)
INBOX_LAG_SECONDS = Gauge(
    "dropsync_inbox_lag_seconds", "Age of the oldest unhandled webhook delivery", multiprocess_mode="max"
)
APPLY_SECONDS = Histogram("dropsync_apply_seconds", "Time to apply one order snapshot to the ledger", ["source"])
ORDERS_APPLIED = Counter(
    "dropsync_orders_applied_total",
    "Order snapshots applied",
    ["source", "outcome"],  # applied | stale
)
DB_TRANSACTIONS_RETRIED = Counter(
    "dropsync_db_transactions_retried_total",
    "Transactions the database aborted for another's sake (deadlock, serialization failure), run again",
    ["what"],
)
RECONCILE_DRIFT = Counter(
    "dropsync_reconcile_drift_total", "Orders the reconciliation sweep found missing or stale in the ledger"
)
SHOPIFY_COST_POINTS = Counter("dropsync_shopify_cost_points_total", "Shopify GraphQL cost points used")
SHOPIFY_THROTTLE_WAIT_SECONDS = Counter(
    "dropsync_shopify_throttle_wait_seconds_total", "Time spent waiting for the Shopify cost bucket"
)
SHOPIFY_REQUESTS = Counter(
    "dropsync_shopify_requests_total",
    "Shopify Admin API requests",
    ["outcome"],  # ok, throttled, error…
)
INTENTS = Gauge("dropsync_intents", "Shopify action intents by state", ["state"], multiprocess_mode="livesum")
INTENT_OLDEST_LIVE_SECONDS = Gauge(
    "dropsync_intent_oldest_live_seconds", "Age of the oldest live (unfinished) intent", multiprocess_mode="max"
)
SUPPLIER_POLLS = Counter(
    "dropsync_supplier_polls_total",
    "Supplier order polls",
    ["supplier", "outcome"],  # ok, changed, error
)
ALERTS_RAISED = Counter("dropsync_alerts_raised_total", "Alerts raised for a person", ["kind"])
DEADLINES_DUE = Gauge("dropsync_deadlines_due", "Supplier deadlines near or passed", ["kind"], multiprocess_mode="max")
EXPOSURE_TOTAL = Gauge(
    "dropsync_exposure", "Refunded to customers, not yet recovered from suppliers", ["currency"],
    multiprocess_mode="max",
)  # fmt: skip

# --- Processes: the web app's requests and the worker's tasks (updated by worker.observability hooks) ---
HTTP_REQUESTS = Counter(
    "dropsync_http_requests_total", "HTTP requests answered by the web process", ["method", "route", "status"]
)
HTTP_REQUEST_SECONDS = Histogram("dropsync_http_request_seconds", "HTTP request handling time", ["method", "route"])
TASKS = Counter(
    "dropsync_tasks_total",
    "Celery tasks run by the worker",
    ["task", "outcome"],  # success | failure | retry | time_limit | worker_lost
)
TASK_SECONDS = Histogram("dropsync_task_seconds", "Celery task run time", ["task"])

# --- Read from the ledger at scrape time (worker.observability.ledger), never set in code ---
INBOX_UNHANDLED = Gauge(
    "dropsync_inbox_unhandled", "Webhook deliveries stored but not yet applied", multiprocess_mode="max"
)
INTENT_OLDEST_SECONDS = Gauge(
    "dropsync_intent_oldest_seconds", "Age of the oldest intent in each live state", ["state"], multiprocess_mode="max"
)
DEADLINES_OVERDUE = Gauge(
    "dropsync_deadlines_overdue", "Open alerts whose deadline has passed", ["kind"], multiprocess_mode="max"
)
ALERTS_OPEN = Gauge("dropsync_alerts_open", "Alerts not yet resolved", ["kind", "severity"], multiprocess_mode="max")
#: The gauges whose truth is the ledger: the web process computes them from the database on every scrape
#: (so they are never stale after a restart or a dead worker child); the worker's endpoint leaves them out.
LEDGER_GAUGES = (
    INBOX_LAG_SECONDS, INBOX_UNHANDLED, INTENTS, INTENT_OLDEST_LIVE_SECONDS, INTENT_OLDEST_SECONDS,
    DEADLINES_DUE, DEADLINES_OVERDUE, ALERTS_OPEN, EXPOSURE_TOTAL,
)  # fmt: skip
