"""The real stack (receiver, worker, beat as processes; both sandboxes; notification receivers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.live_stack import LiveStack, live_stack


@pytest.fixture
def stack(
    request: pytest.FixtureRequest,
    committed_db: Engine,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LiveStack]:
    """The stack; a module's ``SEED_ORDERS`` sets how many orders the Shopify sandbox starts with (4)."""
    seed_orders = getattr(request.module, "SEED_ORDERS", 4)
    with live_stack(database_url, redis_url, tmp_path, monkeypatch, seed_orders) as running_stack:
        yield running_stack
