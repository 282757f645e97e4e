"""Every Prometheus metric dropsync exports, declared once. Features import and update these.

Served on the web process at ``/metrics`` and by the worker (multiprocess mode: see
``worker.observability`` for how ``PROMETHEUS_MULTIPROC_DIR`` is handled).
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
