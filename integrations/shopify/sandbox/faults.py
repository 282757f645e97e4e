"""Fault switches: decide, per request or per delivery, whether to misbehave (seeded, so reproducible)."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, fields
from typing import Any

from integrations.shopify.sandbox.config import FaultConfig


class Faults:
    """The live fault settings plus the seeded RNG every decision draws from."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self._rng = random.Random(seed * 7_777_777 + 1)
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {"errors": 0, "timeouts": 0, "dropped_responses": 0}

    def update(self, **changes: Any) -> FaultConfig:
        """Change some switches (unknown names raise ``ValueError``); returns the new settings."""
        known = {f.name for f in fields(FaultConfig)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault switch(es): {', '.join(sorted(unknown))}")
        candidate = FaultConfig(**{**asdict(self.config), **changes})
        candidate.validate()
        with self._lock:
            self.config = candidate
        return candidate

    def clear(self) -> None:
        with self._lock:
            self.config = FaultConfig()

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def shuffle(self, items: list[Any]) -> None:
        with self._lock:
            self._rng.shuffle(items)

    def count(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1
