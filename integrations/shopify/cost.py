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
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    value_from_ast_untyped,
)

from integrations.shopify.schema import TypeIndex

MAX_QUERY_COST = 1000
MUTATION_COST = 10

Fragments = dict[str, FragmentDefinitionNode]


class CostCalculator:
    """Requested and actual cost of one operation. Types are named (``TypeIndex``: the schema's types by
    name, the fields' types unwrapped of lists and non-null, which the rules never look at)."""

    def __init__(self, types: TypeIndex, fragments: Fragments, variables: dict[str, Any]) -> None:
        self._types = types
        self._fragments = fragments
        self._variables = variables

    def requested(self, operation: OperationDefinitionNode) -> int:
        if operation.operation == OperationType.MUTATION:
            return MUTATION_COST
        return self._selection_cost(self._types.query, operation.selection_set)

    def actual(self, operation: OperationDefinitionNode, data: dict[str, Any] | None) -> int:
        if operation.operation == OperationType.MUTATION:
            return MUTATION_COST
        return self._data_cost(self._types.query, operation.selection_set, data or {})

    def _fields(self, parent: str | None, selection_set: SelectionSetNode | None) -> list[tuple[str | None, FieldNode]]:
        """(parent type, field) pairs, fragments flattened; abstract parents keep their own type."""
        found: list[tuple[str | None, FieldNode]] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                found.append((parent, selection))
            elif isinstance(selection, InlineFragmentNode):
                inner = selection.type_condition.name.value if selection.type_condition else parent
                found.extend(self._fields(inner, selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is not None:
                    inner = fragment.type_condition.name.value
                    found.extend(self._fields(inner, fragment.selection_set))
        return found

    def _field_type(self, parent: str | None, node: FieldNode) -> str | None:
        return self._types.field_type(parent, node.name.value)

    def _priced(self, named: str, node: FieldNode) -> bool:
        """Whether the field costs anything: objects and connections do; scalars, enums, ``__typename`` not."""
        return not self._types.is_leaf(named) and not node.name.value.startswith("__")

    def _size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = value_from_ast_untyped(argument.value, self._variables)
                return int(value) if isinstance(value, int) else 0
        return 0

    def _selection_cost(self, parent: str | None, selection_set: SelectionSetNode | None) -> int:
        total = 0
        for owner, node in self._fields(parent, selection_set):
            named = self._field_type(owner, node)
            if named is None or not self._priced(named, node):
                continue
            if self._types.is_connection(named):
                total += 2 + self._size(node) * self._node_cost(named, node)
            else:
                total += 1 + self._selection_cost(named, node.selection_set)
        return total

    def _node_cost(self, connection: str, node: FieldNode) -> int:
        best = 0
        for owner, inner in self._fields(connection, node.selection_set):
            if inner.name.value == "nodes":
                best = max(best, 1 + self._selection_cost(self._field_type(owner, inner), inner.selection_set))
            elif inner.name.value == "edges":
                edge = self._field_type(owner, inner)
                best = max(best, self._selection_cost(edge, inner.selection_set))
        return best

    def _data_cost(self, parent: str | None, selection_set: SelectionSetNode | None, data: Any) -> int:
        if not isinstance(data, dict):
            return 0
        total = 0
        for owner, node in self._fields(parent, selection_set):
            named = self._field_type(owner, node)
            if named is None or not self._priced(named, node):
                continue
            value = data.get(node.alias.value if node.alias else node.name.value)
            if self._types.is_connection(named):
                total += 2 + self._connection_data_cost(named, node, value)
            else:
                first = value[0] if isinstance(value, list) and value else value
                total += 1 + self._data_cost(named, node.selection_set, first)
        return total

    def _connection_data_cost(self, connection: str, node: FieldNode, value: Any) -> int:
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
