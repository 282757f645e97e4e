"""Sandbox configuration: shop identity, data size, plan limits, webhook delivery and fault switches.

Credentials default to the worker's own environment variables (``SHOPIFY_SHOP_DOMAIN``,
``SHOPIFY_ACCESS_TOKEN``, ``SHOPIFY_CLIENT_SECRET``, ``SHOPIFY_API_VERSION``) so that a sandbox and a worker
started from one environment agree without extra flags.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

from integrations.shopify.cost import MAX_QUERY_COST as MAX_QUERY_COST  # one home for the cost rules

# Shopify's published restore rates (points/second) per plan. Bucket size: 20 x the restore rate, the ratio
# Shopify has always kept (1000/50 on the older limits); both can be overridden per sandbox.
PLAN_RESTORE_RATES: dict[str, int] = {"standard": 100, "advanced": 200, "plus": 1000, "enterprise": 2000}
BUCKET_SECONDS = 20

# Shopify retries a failed delivery 8 times over about 4 hours (seconds after the previous attempt).
DEFAULT_ACCESS_TOKEN = "shpat_sandbox"  # used when SHOPIFY_ACCESS_TOKEN is unset

SHOPIFY_WEBHOOK_BACKOFF: tuple[float, ...] = (60, 300, 600, 1200, 1800, 3600, 3600, 3600)


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass
class FaultConfig:
    """Fault switches. Rates are probabilities in [0, 1], drawn from a RNG seeded by the sandbox seed.

    - ``error_rate``: answer 5xx without running the request.
    - ``latency_seconds``: added to every Admin API request.
    - ``timeout_rate`` / ``timeout_seconds``: hold the request that long, then run it and answer (the client
      has usually given up: a mutation applied after a timeout is the "unknown outcome" case).
    - ``drop_response_rate``: run the request (mutations apply), then break the connection mid-response.
    - ``webhook_duplicate_rate``: deliver a webhook twice (same ``X-Shopify-Webhook-Id``).
    - ``webhook_out_of_order``: hold deliveries in a window and send them shuffled.
    - ``webhook_drop_rate``: never deliver.
    - ``only_fields``: when set, the request-level rates apply only to requests whose root fields include one
      of these (e.g. ``("refundCreate",)``), so read-backs stay healthy.
    One-shot faults (``Faults.add_one_shot``) hit the next matching request whatever the rates.
    """

    error_rate: float = 0.0
    latency_seconds: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    drop_response_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_out_of_order: bool = False
    webhook_reorder_window_seconds: float = 0.5
    webhook_drop_rate: float = 0.0
    only_fields: tuple[str, ...] = ()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first switch out of range."""
        for name in ("error_rate", "timeout_rate", "drop_response_rate", "webhook_duplicate_rate", "webhook_drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1 (got {value})")
        for name in ("latency_seconds", "timeout_seconds", "webhook_reorder_window_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")


@dataclass
class SandboxConfig:
    """Everything that shapes one sandbox shop. Same seed and order count: same orders."""

    seed: int = 1
    orders: int = 50
    plan: str = "standard"
    shop_domain: str = field(default_factory=lambda: _env("SHOPIFY_SHOP_DOMAIN", "sandbox.myshopify.com"))
    access_token: str = field(default_factory=lambda: _env("SHOPIFY_ACCESS_TOKEN", DEFAULT_ACCESS_TOKEN))
    client_secret: str = field(default_factory=lambda: _env("SHOPIFY_CLIENT_SECRET", "sandbox-secret"))
    api_version: str = field(default_factory=lambda: _env("SHOPIFY_API_VERSION", "2026-10"))
    host: str = "127.0.0.1"
    port: int = 0
    restore_rate: float | None = None
    bucket_size: float | None = None
    # Seeded orders are spread over the 60 days before this instant (default: when the sandbox starts).
    clock_start: datetime | None = None
    history_days: int = 60
    shop_currency: str = "USD"
    # Shopify Payments disputes on this many seeded orders (picked by the seed; disputes.seed).
    disputes: int = 0
    webhook_timeout_seconds: float = 5.0
    webhook_connect_timeout_seconds: float = 1.0
    webhook_backoff: tuple[float, ...] = SHOPIFY_WEBHOOK_BACKOFF
    # orderCancel and bulk operations finish asynchronously after this delay (seconds).
    job_delay_seconds: float = 0.05
    faults: FaultConfig = field(default_factory=FaultConfig)
    # The REST Admin API's own leaky bucket (requests, requests/second); None: the plan's (rest/api.py).
    rest_bucket_size: float | None = None
    rest_restore_rate: float | None = None
    # HTTPS: a PEM certificate and key (``tls.self_signed`` makes a pair); None: plain HTTP.
    tls_certfile: str | None = None
    tls_keyfile: str | None = None

    def validate(self) -> None:
        """Raise ``ValueError`` with a one-line reason for the first bad value."""
        if self.plan not in PLAN_RESTORE_RATES:
            raise ValueError(f"plan must be one of {', '.join(PLAN_RESTORE_RATES)} (got {self.plan!r})")
        if self.orders < 0:
            raise ValueError("orders must be >= 0")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535 (got {self.port})")
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("TLS needs both a certificate and a key")
        self.faults.validate()

    @property
    def effective_restore_rate(self) -> float:
        return self.restore_rate if self.restore_rate is not None else float(PLAN_RESTORE_RATES[self.plan])

    @property
    def effective_bucket_size(self) -> float:
        if self.bucket_size is not None:
            return self.bucket_size
        return self.effective_restore_rate * BUCKET_SECONDS
