"""Fault switches: decide, per request or per delivery, whether to misbehave (seeded, so reproducible)."""

from __future__ import annotations

import random
import threading
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, fields
from typing import Any

from sandboxes.shopify.config import FaultConfig

ONE_SHOT_KINDS = ("error", "timeout", "drop", "export_failed")


@dataclass
class OneShot:
    """Misbehave once on the next request whose root fields include ``field`` (None: any request)."""

    kind: str  # error (5xx, nothing runs), timeout (held, then runs), drop (runs, connection cut),
    # export_failed (a bulk query is accepted, its export ends FAILED)
    field: str | None = None


class Faults:
    """The live fault settings plus the seeded RNG every decision draws from."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self._rng = random.Random(seed * 7_777_777 + 1)
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {"errors": 0, "timeouts": 0, "dropped_responses": 0}
        self.one_shots: list[OneShot] = []

    def update(self, **changes: Any) -> FaultConfig:
        """Change some switches (unknown names raise ``ValueError``); returns the new settings."""
        known = {f.name for f in fields(FaultConfig)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault switch(es): {', '.join(sorted(unknown))}")
        if "only_fields" in changes:
            changes["only_fields"] = tuple(changes["only_fields"] or ())
        candidate = FaultConfig(**{**asdict(self.config), **changes})
        candidate.validate()
        with self._lock:
            self.config = candidate
        return candidate

    def clear(self) -> None:
        with self._lock:
            self.config = FaultConfig()
            self.one_shots.clear()

    def add_one_shot(self, kind: str, field: str | None = None, times: int = 1) -> None:
        if kind not in ONE_SHOT_KINDS:
            raise ValueError(f"unknown one-shot fault {kind!r} (use {', '.join(ONE_SHOT_KINDS)})")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self.one_shots.extend(OneShot(kind, field) for _ in range(times))

    def strikes(self, kind: str, rate: float, root_fields: AbstractSet[str]) -> bool:
        """Whether this request gets fault ``kind``: a matching one-shot (consumed), else the seeded rate."""
        with self._lock:
            for position, shot in enumerate(self.one_shots):
                if shot.kind == kind and (shot.field is None or shot.field in root_fields):
                    del self.one_shots[position]
                    return True
            only = self.config.only_fields
        if only and not root_fields & set(only):
            return False
        return self.roll(rate)

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def uniform(self, high: float) -> float:
        """A seeded draw in [0, high)."""
        with self._lock:
            return self._rng.random() * high

    def count(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1
