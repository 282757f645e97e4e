"""Every GraphQL document dropsync sends is valid against Shopify's real 2026-10 schema and affordable."""

from __future__ import annotations

import gzip

import graphql
import orjson
import pytest

from integrations.shopify import documents
from integrations.shopify.documents import MAX_QUERY_COST, DocumentError, estimate_cost
from integrations.shopify.schema import (
    TYPES_FILE,
    load_schema,
    load_types,
    read_introspection,
    type_index,
    validate_document,
)

FRAGMENTS = {
    "OrderFields",
    "LineItemFields",
    "FulfillmentOrderFields",
    "RefundLineFields",
    "FulfillmentLineFields",
    "FulfillmentOrderLineFields",
    "OrderReturnFields",
    "MoneyBagFields",
    "BulkOperationFields",
    "DisputeFields",
    "ReturnFields",
}
OPERATIONS = sorted(set(documents.available_names()) - FRAGMENTS)
# Page sizes a caller would send; the nested sizes are fixed in the files.
TYPICAL_VARIABLES = {"OrdersPage": {"first": 2}, "WebhookSubscriptions": {"first": 100}, "DisputesPage": {"first": 50}}


def test_the_expected_documents_exist() -> None:
    expected = {
        "OrdersPage", "OrderById", "BulkOrdersQuery", "BulkOperationRunQuery", "BulkOperationById",
        "CurrentBulkOperation", "WebhookSubscriptionCreate", "WebhookSubscriptions", "OrderForAction",
        "OrderCancel", "JobById", "SuggestedRefund", "RefundCreate", "FulfillmentOrderCancel",
        "FulfillmentOrderSubmitCancellationRequest", "ReturnById", "OrderReturnables", "ReturnCreate",
        "ReturnApproveRequest", "ReturnDeclineRequest", "ReturnProcess", "ReturnClose",
    }  # fmt: skip
    assert expected <= set(OPERATIONS)
    assert set(documents.available_names()) >= FRAGMENTS


@pytest.mark.parametrize("name", OPERATIONS)
def test_operation_validates_against_the_real_schema(name: str) -> None:
    doc = documents.load(name)
    assert [e.message for e in validate_document(doc.source)] == []


@pytest.mark.parametrize("name", sorted(FRAGMENTS))
def test_fragment_files_are_used_and_valid(name: str) -> None:
    users = [op for op in OPERATIONS if f"fragment {name} on" in documents.load(op).source]
    assert users, f"fragment {name} is not used by any operation"
    fragment = graphql.parse(documents.read_file(name)).definitions[0]
    assert isinstance(fragment, graphql.FragmentDefinitionNode)
    assert fragment.name.value == name


@pytest.mark.parametrize("name", [n for n in OPERATIONS if n != "BulkOrdersQuery"])
def test_requested_cost_stays_under_shopifys_ceiling(name: str) -> None:
    doc = documents.load(name)
    assert estimate_cost(doc, TYPICAL_VARIABLES.get(name, {})) <= MAX_QUERY_COST


def test_order_fields_cover_what_the_ledger_stores() -> None:
    source = documents.load("OrderById").source
    for field in (
        "legacyResourceId", "processedAt", "closedAt", "cancelledAt", "cancelReason", "customAttributes",
        "presentmentCurrencyCode", "subtotalPriceSet", "totalPriceSet", "totalTaxSet", "totalShippingPriceSet",
        "totalDiscountsSet", "totalRefundedSet", "totalOutstandingSet", "totalReceivedSet",
        "displayFinancialStatus", "displayFulfillmentStatus", "currentQuantity", "refundableQuantity",
        "unfulfilledQuantity", "originalUnitPriceSet", "totalDiscountSet", "taxLines", "requestStatus",
        "assignedLocation", "remainingQuantity", "refundLineItems", "restockType", "parentTransaction", "gateway",
    ):  # fmt: skip
        assert field in source, field


def test_kinds_and_idempotency_are_read_from_the_documents() -> None:
    refund = documents.load("RefundCreate")
    assert refund.is_mutation
    assert refund.idempotent
    operation = refund.ast.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    root_field = operation.selection_set.selections[0]
    assert isinstance(root_field, graphql.FieldNode)
    directive = root_field.directives[0]
    assert directive.name.value == "idempotent"
    assert graphql.print_ast(directive.arguments[0].value) == "$idempotencyKey"
    assert load_schema().get_directive("idempotent") is not None
    cancel = documents.load("OrderCancel")
    assert cancel.is_mutation
    assert not cancel.idempotent
    assert "jobResult" in cancel.source
    assert "orderCancelUserErrors" in cancel.source
    assert documents.load("OrderById").operation == "query"


def _connections(
    node: graphql.SelectionSetNode | None, parent: graphql.GraphQLNamedType, depth: int, in_list: bool = False
) -> list[tuple[str, int, bool, bool]]:
    """(field, connection depth, has `first`, inside a list field) for every connection under ``node``."""
    found: list[tuple[str, int, bool, bool]] = []
    if node is None or not isinstance(parent, graphql.GraphQLObjectType):
        return found
    for selection in node.selections:
        assert isinstance(selection, graphql.FieldNode), "bulk queries may not use fragments"
        definition = parent.fields[selection.name.value]
        named = graphql.get_named_type(definition.type)
        is_connection = named.name.endswith("Connection")
        level = depth + 1 if is_connection else depth
        if is_connection:
            has_first = any(a.name.value in ("first", "last") for a in selection.arguments or ())
            found.append((selection.name.value, level, has_first, in_list))
        # A connection's own `edges`/`nodes` lists are fine; any other list field puts its subtree "in a list".
        is_list = graphql.is_list_type(graphql.get_nullable_type(definition.type))
        nested_in_list = in_list or (is_list and selection.name.value not in ("edges", "nodes"))
        found += _connections(selection.selection_set, named, level, nested_in_list)
    return found


def test_bulk_query_obeys_the_bulk_rules() -> None:
    doc = documents.load("BulkOrdersQuery")
    operation = doc.ast.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    assert len(doc.ast.definitions) == 1
    root = load_schema().query_type
    assert root is not None
    connections = _connections(operation.selection_set, root, 0)
    assert 1 <= len(connections) <= 5, connections
    assert max(level for _, level, _, _ in connections) <= 2, connections
    assert not any(has_first for _, _, has_first, _ in connections), connections
    assert not any(in_list for *_, in_list in connections), "Shopify refuses a connection inside a list field"


def test_cost_estimate_follows_shopifys_rules() -> None:
    assert estimate_cost(documents.from_source("{ shop { id name } }")) == 1
    assert estimate_cost(documents.from_source("{ orders(first: 5) { nodes { id } } }")) == 2 + 5
    nested = "query($n: Int!) { orders(first: $n) { nodes { id lineItems(first: 3) { nodes { id } } } } }"
    assert estimate_cost(documents.from_source(nested), {"n": 4}) == 2 + 4 * (1 + 2 + 3)
    assert estimate_cost(documents.load("RefundCreate")) == 10


def test_the_cost_rules_type_index_agrees_with_the_schema_on_every_field() -> None:
    """The calculator prices from ``load_types`` (read straight from the introspection, not graphql-core's
    schema): each field's named type, leaf or not, connection or not, as graphql-core's schema says."""
    schema, types = load_schema(), load_types()
    assert schema.query_type is not None
    assert types.query == schema.query_type.name
    checked = 0
    for name, definition in schema.type_map.items():
        # output types: input objects are never priced (their fields are arguments' values), nor is
        # introspection (``__schema``, ``__type``: graphql-core's own meta types, not the file's)
        output = isinstance(definition, (graphql.GraphQLObjectType, graphql.GraphQLInterfaceType))
        if name.startswith("__"):
            continue
        fields = definition.fields if output else {}
        assert set(types.fields[name]) == set(fields), name
        for field_name, field in fields.items():
            named = graphql.get_named_type(field.type)
            assert types.field_type(name, field_name) == named.name, (name, field_name)
            assert types.is_leaf(named.name) == graphql.is_leaf_type(named), named.name
            connection = (
                isinstance(named, graphql.GraphQLObjectType)
                and named.name.endswith("Connection")
                and ("edges" in named.fields)
            )
            assert types.is_connection(named.name) == connection, named.name
            checked += 1
    assert checked > 9_000  # every output field of the 2026-10 schema


def test_the_shipped_type_index_is_the_one_the_introspection_gives() -> None:
    """``load_types`` reads the index kept beside the introspection: were the introspection replaced (a new
    API version) without ``python -m integrations.shopify.schema``, this fails."""
    expected = type_index(read_introspection())
    shipped = orjson.loads(gzip.decompress(TYPES_FILE.read_bytes()))
    assert shipped == expected
    assert len(expected["kinds"]) > 3_000


def test_bad_documents_are_refused_with_a_clear_error() -> None:
    with pytest.raises(DocumentError, match="no GraphQL document"):
        documents.load("NoSuchDocument")
    with pytest.raises(DocumentError, match="Syntax Error"):
        documents.from_source("query { orders(")
    with pytest.raises(DocumentError, match="expected one operation"):
        documents.from_source("query A { shop { id } } query B { shop { id } }")


def _deprecated_uses(doc: documents.Document) -> list[str]:
    schema = load_schema()
    info = graphql.TypeInfo(schema)
    found: list[str] = []

    class Collect(graphql.Visitor):
        def enter_field(self, node: graphql.FieldNode, *_: object) -> None:
            definition = info.get_field_def()
            if definition is not None and definition.deprecation_reason:
                found.append(node.name.value)

        def enter_argument(self, node: graphql.ArgumentNode, *_: object) -> None:
            argument = info.get_argument()
            if argument is not None and argument.deprecation_reason:
                found.append(f"argument {node.name.value}")

    graphql.visit(doc.ast, graphql.TypeInfoVisitor(info, Collect()))
    return found


# Documented in the file: the sandbox serves only the deprecated form so far.
DEPRECATED_ON_PURPOSE = {"CurrentBulkOperation": ["currentBulkOperation"]}


@pytest.mark.parametrize("name", OPERATIONS)
def test_documents_use_no_deprecated_field_or_argument(name: str) -> None:
    assert _deprecated_uses(documents.load(name)) == DEPRECATED_ON_PURPOSE.get(name, [])


def _cut_lists(source: str) -> list[str]:
    """Plain list fields (``Order.refunds``, ``Order.transactions``) given ``first`` in ``source``."""
    schema = load_schema()
    info = graphql.TypeInfo(schema)
    cut: list[str] = []

    class Lists(graphql.Visitor):
        def enter_field(self, node: graphql.FieldNode, *_: object) -> None:
            definition = info.get_field_def()
            parent = info.get_parent_type()
            if definition is None or parent is None:
                return
            is_list = graphql.is_list_type(graphql.get_nullable_type(definition.type))
            if is_list and any(a.name.value == "first" for a in node.arguments or ()):
                cut.append(f"{parent.name}.{node.name.value}")

    graphql.visit(graphql.parse(source), graphql.TypeInfoVisitor(info, Lists()))
    return cut


@pytest.mark.parametrize("name", OPERATIONS)
def test_no_plain_list_is_cut_by_first(name: str) -> None:
    """A plain list costs one object whatever its length; ``first`` on it only hides elements (an order's
    refunds past the fifth, and their money). Connections are paged and complete_line_items-style reads
    fetch the rest; a list cannot be paged, so it is read whole."""
    assert _cut_lists(documents.load(name).source) == []


def test_a_cut_list_is_seen() -> None:
    assert _cut_lists('query { order(id: "gid://shopify/Order/1") { refunds(first: 5) { id } } }') == ["Order.refunds"]
