"""The beat schedule, defined in code. A feature adds its periodic tasks here."""

from __future__ import annotations

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # The inbox sweeper: drains deliveries whose publish was lost (broker down, process killed).
    "mirror.drain_inbox": {"task": "mirror.drain_inbox", "schedule": 15.0},
    "system.heartbeat": {"task": "system.heartbeat", "schedule": 60.0},
    "supplier.poll_due": {"task": "supplier.poll_due", "schedule": 60.0},
    "deadlines.raise_alerts": {"task": "deadlines.raise_alerts", "schedule": 300.0},
}
