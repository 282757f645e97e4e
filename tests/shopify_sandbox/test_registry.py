"""Every field the sandbox claims to serve exists in Shopify's schema, and every leaf of Order answers."""

from __future__ import annotations

import graphql

import sandboxes.shopify.mutations
import sandboxes.shopify.views.root  # noqa: F401 - registers every view class
from integrations.shopify.schema import load_schema
from sandboxes.shopify import SandboxConfig, ShopifySandbox
from sandboxes.shopify.views.base import DICT_TYPES, REGISTRY


def test_every_supported_field_is_a_real_shopify_field() -> None:
    schema = load_schema()
    for typename, fields in {**REGISTRY, **DICT_TYPES}.items():
        shopify_type = schema.get_type(typename)
        assert isinstance(shopify_type, graphql.GraphQLObjectType), typename
        unknown = fields - set(shopify_type.fields)
        assert not unknown, f"{typename}: {sorted(unknown)}"


def _leaves(type_: graphql.GraphQLObjectType) -> list[str]:
    """Supported fields of a type that return scalars or enums and need no arguments."""
    names = []
    for name in sorted(REGISTRY[type_.name]):
        field = type_.fields[name]
        required = [a for a in field.args.values() if graphql.is_non_null_type(a.type)]
        if graphql.is_leaf_type(graphql.get_named_type(field.type)) and not required:
            names.append(name)
    return names


def test_every_supported_leaf_answers_without_error() -> None:
    schema = load_schema()
    sandbox = ShopifySandbox(SandboxConfig(seed=4, orders=60, restore_rate=1e9, bucket_size=1e9))
    order = " ".join(_leaves(schema.get_type("Order")))  # type: ignore[arg-type]
    line = " ".join(_leaves(schema.get_type("LineItem")))  # type: ignore[arg-type]
    transaction = " ".join(_leaves(schema.get_type("OrderTransaction")))  # type: ignore[arg-type]
    fulfillment = " ".join(_leaves(schema.get_type("Fulfillment")))  # type: ignore[arg-type]
    fo = " ".join(_leaves(schema.get_type("FulfillmentOrder")))  # type: ignore[arg-type]
    refund = " ".join(_leaves(schema.get_type("Refund")))  # type: ignore[arg-type]
    query = f"""query($after: String) {{ orders(first: 20, after: $after) {{
        pageInfo {{ hasNextPage endCursor }} nodes {{ {order}
        lineItems(first: 10) {{ nodes {{ {line} }} }}
        transactions {{ {transaction} }}
        fulfillments {{ {fulfillment} }}
        fulfillmentOrders(first: 5) {{ nodes {{ {fo} }} }}
        refunds {{ {refund} }} }} }} }}"""
    seen, after = 0, None
    while True:
        body = sandbox.executor.run(query, {"after": after}).body
        assert "errors" not in body, body.get("errors")
        page = body["data"]["orders"]
        seen += len(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == 60
    sandbox.close()
