"""The GraphQL documents dropsync sends, loaded by name from ``graphql/*.graphql`` (one per file).

A file holds one operation or one fragment; the file is named after it. ``load("OrderById")`` returns the
operation with every fragment it spreads (transitively) appended, parsed once and cached. Every file is
validated against Shopify's 2026-10 schema by tests/shopify_client/test_documents.py.

``estimate_cost`` approximates Shopify's *requested* cost (scalars and enums 0, objects 1, connections
2 + first × node, mutations 10) so pacing can wait for the bucket before a document's first request and
tests can keep every document under the 1000-point ceiling. The server's figure always wins once seen.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import graphql
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

from integrations.shopify.schema import load_schema

DOCUMENTS_DIR = Path(__file__).with_name("graphql")
MAX_QUERY_COST = 1000
MUTATION_COST = 10
UNBOUNDED_PAGE = 250  # Shopify's largest page: the cost of a connection whose size is unknown


class DocumentError(ValueError):
    """A GraphQL document that cannot be used (missing file, syntax error, no single operation)."""


@dataclass(frozen=True)
class Document:
    """One operation ready to send: its full text (fragments included) and what kind of call it is.

    ``idempotent``: the mutation carries ``@idempotent(key: …)`` on its field, so resending it with the
    same variables cannot apply it twice (the client may then retry it like a query).
    """

    name: str
    source: str
    operation: Literal["query", "mutation"]
    idempotent: bool
    ast: DocumentNode = field(repr=False, compare=False)

    @property
    def is_mutation(self) -> bool:
        return self.operation == "mutation"

    @functools.cached_property
    def digest(self) -> str:
        return hashlib.blake2b(self.source.encode(), digest_size=8).hexdigest()


def available_names() -> list[str]:
    """Every document file's name (operations and fragments)."""
    return sorted(p.stem for p in DOCUMENTS_DIR.glob("*.graphql"))


def read_file(name: str) -> str:
    path = DOCUMENTS_DIR / f"{name}.graphql"
    if not path.is_file():
        raise DocumentError(f"no GraphQL document {name!r} in {DOCUMENTS_DIR}")
    return path.read_text(encoding="utf-8")


@functools.cache
def load(name: str) -> Document:
    """The operation in ``graphql/<name>.graphql`` with the fragments it uses appended."""
    source = read_file(name)
    spreads = _spread_names(_parse(source, name))
    texts = [source] + [read_file(fragment) for fragment in sorted(_fragment_closure(spreads))]
    return from_source("\n".join(texts), name=name)


@functools.lru_cache(maxsize=256)
def from_source(source: str, name: str | None = None) -> Document:
    """A ``Document`` from GraphQL text (one operation, its fragments included)."""
    ast = _parse(source, name or "inline document")
    operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        raise DocumentError(f"{name or 'document'}: expected one operation, found {len(operations)}")
    operation = operations[0]
    if operation.operation not in (OperationType.QUERY, OperationType.MUTATION):
        raise DocumentError(f"{name or 'document'}: {operation.operation.value} operations are not sent")
    kind: Literal["query", "mutation"] = "mutation" if operation.operation is OperationType.MUTATION else "query"
    label = name or (operation.name.value if operation.name else "anonymous " + kind)
    return Document(name=label, source=source, operation=kind, idempotent=_has_idempotent_field(operation), ast=ast)


def _parse(source: str, name: str) -> DocumentNode:
    try:
        return graphql.parse(source)
    except graphql.GraphQLError as exc:
        raise DocumentError(f"{name}: {exc.message}") from None


def _spread_names(node: Any) -> set[str]:
    names: set[str] = set()

    class Collect(graphql.Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: Any) -> None:
            names.add(spread.name.value)

    graphql.visit(node, Collect())
    return names


def _fragment_closure(names: set[str]) -> set[str]:
    """The named fragments plus every fragment they spread, each read from its own file."""
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(_spread_names(_parse(read_file(name), name)) - seen)
    return seen


def _has_idempotent_field(operation: OperationDefinitionNode) -> bool:
    return any(
        isinstance(selection, FieldNode) and any(d.name.value == "idempotent" for d in selection.directives or ())
        for selection in operation.selection_set.selections
    )


def estimate_cost(document: Document, variables: Mapping[str, Any] | None = None) -> int:
    """Shopify-style requested cost of ``document`` with ``variables`` (an upper bound, not the bill)."""
    if document.is_mutation:
        return MUTATION_COST
    schema = load_schema()
    fragments = {d.name.value: d for d in document.ast.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in document.ast.definitions if isinstance(d, OperationDefinitionNode))
    defaults = {
        v.variable.name.value: graphql.value_from_ast_untyped(v.default_value)
        for v in operation.variable_definitions or ()
        if v.default_value is not None
    }
    estimator = _CostEstimator(schema, fragments, {**defaults, **(variables or {})})
    root = schema.query_type
    assert root is not None
    return estimator.selection_cost(operation.selection_set, root)


class _CostEstimator:
    def __init__(self, schema: graphql.GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any]) -> None:  # fmt: skip
        self.schema = schema
        self.fragments = fragments
        self.variables = dict(variables)

    def selection_cost(self, selection_set: SelectionSetNode | None, parent: graphql.GraphQLNamedType) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                total += self.selection_cost(fragment.selection_set, self._named(fragment.type_condition.name.value))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self._named(condition.name.value) if condition else parent
                total += self.selection_cost(selection.selection_set, target)
        return total

    def field_cost(self, node: FieldNode, parent: graphql.GraphQLNamedType) -> int:
        if not isinstance(parent, GraphQLObjectType | graphql.GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0
        named = graphql.get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType | graphql.GraphQLInterfaceType | graphql.GraphQLUnionType):
            return 0
        inner = self.selection_cost(node.selection_set, named)
        if named.name.endswith("Connection"):
            return 2 + (self._page_size(node) or UNBOUNDED_PAGE) * inner
        if graphql.is_list_type(graphql.get_nullable_type(definition.type)):
            return (self._page_size(node) or 1) * (1 + inner)  # a plain list without `first`: one object
        if node.name.value in ("nodes", "node"):
            return 1 + inner
        if node.name.value == "edges" or named.name == "PageInfo":
            return inner
        return 1 + inner

    def _page_size(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = graphql.value_from_ast_untyped(argument.value, self.variables)
                if isinstance(value, int):
                    return value
        return None

    def _named(self, name: str) -> graphql.GraphQLNamedType:
        named = self.schema.get_type(name)
        if named is None:
            raise DocumentError(f"unknown type {name}")
        return named
