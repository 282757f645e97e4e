"""Shopify's calculated query cost: one home for the rules, used by the client and by the sandbox.

Rules (shopify.dev "GraphQL Admin API rate limits"): scalars and enums cost 0; an object 1; a
connection ``2 + first (or last) x the cost of one node``; a plain list field (``refunds(first: 20)``,
``transactions``) costs like one object — only connections are multiplied by their page size; a
mutation 10. A query may request at most 1000 points.

``requested``: what Shopify charges up front (the client paces on it before the server's figure is
known; the sandbox charges it). ``actual``: connections counted by the nodes really returned (the
sandbox gives the difference back).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

MAX_QUERY_COST = 1000
MUTATION_COST = 10

Fragments = dict[str, FragmentDefinitionNode]


class CostCalculator:
    """Requested and actual cost of one operation."""

    def __init__(self, schema: GraphQLSchema, fragments: Fragments, variables: dict[str, Any]) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables

    def requested(self, operation: OperationDefinitionNode) -> int:
        if operation.operation == OperationType.MUTATION:
            return MUTATION_COST
        root = self._schema.query_type
        assert root is not None
        return self._selection_cost(root, operation.selection_set)

    def actual(self, operation: OperationDefinitionNode, data: dict[str, Any] | None) -> int:
        if operation.operation == OperationType.MUTATION:
            return MUTATION_COST
        root = self._schema.query_type
        assert root is not None
        return self._data_cost(root, operation.selection_set, data or {})

    def _fields(self, parent: Any, selection_set: SelectionSetNode | None) -> list[tuple[Any, FieldNode]]:
        """(parent type, field) pairs, fragments flattened; abstract parents keep their own type."""
        found: list[tuple[Any, FieldNode]] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                found.append((parent, selection))
            elif isinstance(selection, InlineFragmentNode):
                inner = (
                    self._schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                )
                found.extend(self._fields(inner, selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is not None:
                    inner = self._schema.get_type(fragment.type_condition.name.value)
                    found.extend(self._fields(inner, fragment.selection_set))
        return found

    def _field_type(self, parent: Any, node: FieldNode) -> Any:
        fields = getattr(parent, "fields", {})
        definition = fields.get(node.name.value)
        return get_named_type(definition.type) if definition is not None else None

    def _size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = value_from_ast_untyped(argument.value, self._variables)
                return int(value) if isinstance(value, int) else 0
        return 0

    def _selection_cost(self, parent: Any, selection_set: SelectionSetNode | None) -> int:
        total = 0
        for owner, node in self._fields(parent, selection_set):
            named = self._field_type(owner, node)
            if named is None or is_leaf_type(named) or node.name.value.startswith("__"):
                continue
            if _is_connection(named):
                total += 2 + self._size(node) * self._node_cost(named, node)
            else:
                total += 1 + self._selection_cost(named, node.selection_set)
        return total

    def _node_cost(self, connection: GraphQLObjectType, node: FieldNode) -> int:
        best = 0
        for owner, inner in self._fields(connection, node.selection_set):
            if inner.name.value == "nodes":
                best = max(best, 1 + self._selection_cost(self._field_type(owner, inner), inner.selection_set))
            elif inner.name.value == "edges":
                edge = self._field_type(owner, inner)
                best = max(best, self._selection_cost(edge, inner.selection_set))
        return best

    def _data_cost(self, parent: Any, selection_set: SelectionSetNode | None, data: Any) -> int:
        if not isinstance(data, dict):
            return 0
        total = 0
        for owner, node in self._fields(parent, selection_set):
            named = self._field_type(owner, node)
            if named is None or is_leaf_type(named) or node.name.value.startswith("__"):
                continue
            value = data.get(node.alias.value if node.alias else node.name.value)
            if _is_connection(named):
                total += 2 + self._connection_data_cost(named, node, value)
            else:
                first = value[0] if isinstance(value, list) and value else value
                total += 1 + self._data_cost(named, node.selection_set, first)
        return total

    def _connection_data_cost(self, connection: Any, node: FieldNode, value: Any) -> int:
        if not isinstance(value, dict):
            return 0
        best = 0
        for owner, inner in self._fields(connection, node.selection_set):
            items = value.get(inner.alias.value if inner.alias else inner.name.value) or []
            inner_type = self._field_type(owner, inner)
            if inner.name.value == "nodes":
                best = max(best, sum(1 + self._data_cost(inner_type, inner.selection_set, item) for item in items))
            elif inner.name.value == "edges":
                best = max(best, sum(self._data_cost(inner_type, inner.selection_set, item) for item in items))
        return best


def _is_connection(named: Any) -> bool:
    return isinstance(named, GraphQLObjectType) and named.name.endswith("Connection") and "edges" in named.fields
