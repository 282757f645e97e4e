"""The GraphQL documents dropsync sends, loaded by name from ``graphql/*.graphql`` (one per file).

A file holds one operation or one fragment; the file is named after it. ``load("OrderById")`` returns the
operation with every fragment it spreads (transitively) appended, parsed once and cached. Every file is
validated against Shopify's 2026-10 schema by tests/shopify_client/test_documents.py.

``estimate_cost`` is Shopify's *requested* cost (``integrations.shopify.cost``, the rules the sandbox
charges by) so pacing can wait for the bucket before a document's first request and tests can keep
every document under the 1000-point ceiling. The server's figure always wins once seen.
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
    OperationDefinitionNode,
    OperationType,
)

from integrations.shopify.cost import MAX_QUERY_COST, MUTATION_COST, CostCalculator
from integrations.shopify.schema import load_types

__all__ = ["MAX_QUERY_COST", "MUTATION_COST", "Document", "DocumentError", "estimate_cost", "load"]

DOCUMENTS_DIR = Path(__file__).with_name("graphql")


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
    """Shopify's requested cost of ``document`` with ``variables`` (``integrations.shopify.cost``: the
    figure the server charges up front, the same rules the sandbox applies)."""
    fragments = {d.name.value: d for d in document.ast.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in document.ast.definitions if isinstance(d, OperationDefinitionNode))
    defaults = {
        v.variable.name.value: graphql.value_from_ast_untyped(v.default_value)
        for v in operation.variable_definitions or ()
        if v.default_value is not None
    }
    return CostCalculator(load_types(), fragments, {**defaults, **(variables or {})}).requested(operation)
