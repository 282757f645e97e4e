"""The rest of an order's connections that a read's first page cut off, read page by page.

Every reader of one order that must see all of a connection (the mirror, an action's plan, the returns
view) asks for ``pageInfo { hasNextPage endCursor }`` on it and hands the node to ``complete_order``.
"""

from __future__ import annotations

from typing import Any

from integrations.shopify.client import ShopifyClient

#: The connections of an ``Order`` node that a first page may cut, and the query reading the rest of each.
ORDER_PAGES = {
    "lineItems": ("OrderLineItemsPage", 50),
    "fulfillmentOrders": ("OrderFulfillmentOrdersPage", 10),
    "returns": ("OrderReturnsPage", 10),
}

#: Per name in ``complete_order``'s ``names``: the children of the order it holds (connection nodes or a
#: plain list), and each child's cut connection: (its query's root field, the connection, the query, page).
CHILD_PAGES = {
    "fulfillmentOrders": ("fulfillmentOrder", "lineItems", "FulfillmentOrderLineItemsPage", 50),
    "refunds": ("refund", "refundLineItems", "RefundLineItemsPage", 50),
    "fulfillments": ("fulfillment", "fulfillmentLineItems", "FulfillmentLineItemsPage", 50),
}


def complete_order(
    client: ShopifyClient, node: dict[str, Any], names: tuple[str, ...] = ("lineItems", "fulfillmentOrders", "refunds")
) -> None:
    """Read the pages of ``node``'s connections ``names`` that its first page cut off into it, in place.

    A connection is cut when its ``pageInfo`` says ``hasNextPage`` (a document without ``pageInfo`` on one
    asks for no more). Without this:
    - an order with more lines than ``OrderFields``' first 10 would be mirrored with only those;
    - fulfillment orders past a read's first page would be hidden from the mirror and from an action's
      plan (and a fulfillment order's or a refund's lines past its first 10, from the ledger's record);
    - a return created past ``OrderReturnables``' first page would not be recognised, and would be
      created again.

    ``refunds`` and ``fulfillments`` are plain lists (always whole); each refund's and each fulfillment's
    lines are paged (a fulfillment's lines past the returns view's first 20 could not be returned). The
    default: what the mirror reads.
    """
    for name in names:
        if name in ORDER_PAGES:
            query, page = ORDER_PAGES[name]
            _complete(client, node, "order", name, query, page)
        if name in CHILD_PAGES:
            root, connection, query, page = CHILD_PAGES[name]
            held = node.get(name)
            children = held.get("nodes") or () if isinstance(held, dict) else held or ()
            for child in children:
                _complete(client, child, root, connection, query, page)


def _complete(client: ShopifyClient, owner: dict[str, Any], root: str, name: str, query: str, page: int) -> None:
    """Read the rest of ``owner[name]`` with ``query`` (its root field ``root``) if its first page was cut."""
    connection = owner.get(name) or {}
    info = connection.get("pageInfo") or {}
    if not info.get("hasNextPage"):
        return
    nodes, cursor = list(connection.get("nodes") or []), info.get("endCursor")
    if cursor is None:
        raise ValueError(f"{name} of {owner.get('id')} has a next page but no endCursor was asked for")
    while cursor is not None:
        data = client.execute(query, {"id": owner["id"], "first": page, "after": cursor})
        more = ((data.get(root) or {}).get(name)) or {"nodes": [], "pageInfo": {}}
        nodes += more["nodes"]
        cursor = more["pageInfo"].get("endCursor") if more["pageInfo"].get("hasNextPage") else None
    owner[name] = {"pageInfo": {"hasNextPage": False}, "nodes": nodes}
