"""The mirror's readings of Shopify orders, labelled with the channel that read them.

Parsing lives in ``integrations.shopify.order`` (one typed order for REST and GraphQL). The mirror adds
only the label it records as the order's ``source`` and on the timeline: ``webhook`` (REST bodies from the
inbox), ``reconcile``, ``backfill`` and ``action`` (GraphQL nodes; at an equal ``updatedAt`` a GraphQL
reading replaces a webhook's, never the reverse: ``ShopifyOrder.from_graphql``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from integrations.shopify.order import ShopifyOrder, parse_graphql_order, parse_rest_order


def from_rest(
    payload: dict[str, Any], source: str = "webhook", triggered_at: dt.datetime | None = None
) -> ShopifyOrder:
    """An ``orders/*`` webhook body (``triggered_at``: its ``X-Shopify-Triggered-At``)."""
    return parse_rest_order(payload, source, triggered_at)


def from_graphql(node: dict[str, Any], source: str = "reconcile", *, serialized_raw: bool = False) -> ShopifyOrder:
    """An ``Order`` node selected with ``OrderFields`` (reconciliation, backfill, an action's read-back);
    ``serialized_raw``: its ``raw`` kept as JSON (``parse_graphql_order``)."""
    return parse_graphql_order(node, source, serialized_raw=serialized_raw)
