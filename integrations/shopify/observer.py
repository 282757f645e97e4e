"""What the Shopify client reports about its traffic, for whoever counts it (the worker's Prometheus
counters): the client calls these hooks and imports no metrics library and nothing of the service."""

from __future__ import annotations

from typing import Protocol


class ClientObserver(Protocol):
    def request(self, outcome: str) -> None:
        """One HTTP exchange ended: ``ok``, ``throttled``, ``graphql_error``, ``http_4xx``, ``timeout``…"""

    def cost_points(self, points: float) -> None:
        """Shopify charged ``points`` of query cost (the actual cost of a request it ran)."""

    def throttle_wait(self, seconds: float) -> None:
        """The client waited ``seconds`` for the cost bucket before sending."""


class NoObserver:
    """Counts nothing: the default for clients built outside the service (tests, scripts)."""

    def request(self, outcome: str) -> None:
        pass

    def cost_points(self, points: float) -> None:
        pass

    def throttle_wait(self, seconds: float) -> None:
        pass


NO_OBSERVER: ClientObserver = NoObserver()
