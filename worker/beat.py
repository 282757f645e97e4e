"""The beat schedule, defined in code. A feature adds its periodic tasks here."""

from __future__ import annotations

from typing import Any

from worker.settings import get_settings

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # The inbox sweeper: drains deliveries whose publish was lost (broker down, process killed).
    "mirror.drain_inbox": {"task": "mirror.drain_inbox", "schedule": 15.0},
    # Catches every webhook Shopify never delivered (DROPSYNC_RECONCILE_INTERVAL_SECONDS, default 5 min).
    "mirror.reconcile_all": {"task": "mirror.reconcile_all", "schedule": get_settings().reconcile_interval_seconds},
    # Deletes handled webhook deliveries older than DROPSYNC_INBOX_RETENTION_DAYS (raw bodies hold PII).
    "mirror.prune_inbox": {"task": "mirror.prune_inbox", "schedule": 3600.0},
    "system.heartbeat": {"task": "system.heartbeat", "schedule": 60.0},
    "supplier.poll_due": {"task": "supplier.poll_due", "schedule": 60.0},
    "deadlines.raise_alerts": {"task": "deadlines.raise_alerts", "schedule": 300.0},
    "supplier.link_recent": {"task": "supplier.link_recent", "schedule": 300.0},
    # Retries due Shopify intents (backoff), hands exhausted ones to a person, advances idle requests.
    "cancellation.sweep": {"task": "cancellation.sweep", "schedule": 15.0},
    # Advances returns whose advance message was lost (their intents are retried by cancellation.sweep).
    "returns.sweep": {"task": "returns.sweep", "schedule": 30.0},
    # Customer return requests whose returns/request webhook never arrived.
    "returns.reconcile": {"task": "returns.reconcile", "schedule": 300.0},
    # Publishes task_outbox rows the after-commit hook did not (process died after commit, broker down).
    "outbox.relay": {"task": "outbox.relay", "schedule": 10.0},
    # Reads recent and undecided Shopify Payments disputes (catches lost disputes/* webhooks) and raises
    # the evidence-deadline alerts.
    "chargebacks.sync_all": {"task": "chargebacks.sync_all", "schedule": 300.0},
    # Shopify <-> AliExpress disagreements (also run on every mirrored order and supplier change).
    "crosscheck.run": {"task": "crosscheck.run", "schedule": float(get_settings().crosscheck_interval_seconds)},
    # Notifications due again (backoff) or abandoned by a worker that died mid-delivery.
    "notify.sweep": {"task": "notify.sweep", "schedule": 15.0},
}
