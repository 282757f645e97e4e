"""What this process has wired, read back from the dispatchers' own registries (tests, benches).

Apart from ``worker.wiring`` so that the wiring table imports none of the dispatchers that read it.
"""

from __future__ import annotations

from worker.mirror import apply, topics
from worker.supplier import events


def registered() -> dict[str, list[str]]:
    return {
        "orders_applied": [repr(h) for h in apply.registered_hooks()],
        "topic_handlers": sorted(f"{t} -> {h!r}" for t, h in topics.registered_handlers().items()),
        "after_topic": sorted(f"{t} -> {h!r}" for t, hooks in topics.registered_after().items() for h in hooks),
        "supplier_change": [repr(c) for c in events.registered_callbacks()],
    }
