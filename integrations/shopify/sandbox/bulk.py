"""Bulk operations: ``bulkOperationRunQuery`` -> a JSONL file served by the sandbox itself.

The query is validated against Shopify's schema and the bulk rules (one top-level connection, ``orders``
being the one the sandbox serves; at most 5 connections; nesting depth 2; at most 5 running per shop).
Rows: one JSON object per node; a node found inside a nested connection gets ``__parentId`` (the id of
the object it hangs under) and follows its parent, as on Shopify. Connections are read in full (``first``
is ignored). The file is written by a background thread; ``bulk_operations/finish`` fires when it is done.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import graphql
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

from integrations.shopify.sandbox import events
from integrations.shopify.sandbox.executor import shopify_validation_error, unsupported_fields
from integrations.shopify.sandbox.listing import list_orders
from integrations.shopify.sandbox.search import parse_query
from integrations.shopify.sandbox.state import BulkOperation
from integrations.shopify.sandbox.views.base import Connection, View
from integrations.shopify.sandbox.views.orders import OrderView
from integrations.shopify.sandbox.views.records import BulkOperationView

if TYPE_CHECKING:
    from integrations.shopify.sandbox.sandbox import ShopifySandbox
    from integrations.shopify.sandbox.state import ShopState

MAX_CONNECTIONS = 5
MAX_DEPTH = 2
MAX_RUNNING = 5
CHUNK = 250  # orders built per lock hold (~30 ms): API requests interleave with an export


class BulkQueryInvalid(ValueError):
    """The bulk query breaks a bulk rule; the message becomes a userError."""


def run_bulk_query(sandbox: ShopifySandbox, query: str, group_objects: bool) -> dict[str, Any]:
    state = sandbox.state
    try:
        document, root_field = _checked(sandbox, query)
    except BulkQueryInvalid as exc:
        return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": str(exc), "code": "INVALID"}]}
    running = [op for op in state.bulk_operations.values() if op.status in ("CREATED", "RUNNING")]
    if len(running) >= MAX_RUNNING:
        message = f"A maximum of {MAX_RUNNING} bulk queries can run at the same time in a shop."
        return {"bulkOperation": None, "userErrors": [{"field": None, "message": message, "code": "LIMIT_REACHED"}]}
    operation = BulkOperation(f"gid://shopify/BulkOperation/{8_000_000 + state.serial()}", query, state.clock.now())
    state.bulk_operations[operation.id] = operation
    state.record("bulkOperationRunQuery", None, applied=True, bulk_operation=operation.id)
    thread = threading.Thread(target=_export, args=(sandbox, operation, document, root_field), daemon=True, name="bulk")
    thread.start()
    return {"bulkOperation": BulkOperationView(operation), "userErrors": []}


def _checked(sandbox: ShopifySandbox, query: str) -> tuple[graphql.DocumentNode, FieldNode]:
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError as exc:
        raise BulkQueryInvalid(f"Invalid bulk query: {exc.message}") from None
    errors = graphql.validate(sandbox.executor.schema, document)
    if errors:
        raise BulkQueryInvalid(f"Invalid bulk query: {shopify_validation_error(errors[0])['message']}")
    problems = unsupported_fields(sandbox.executor.schema, document)
    if problems:
        raise BulkQueryInvalid(problems[0]["message"])
    operation = graphql.get_operation_ast(document)
    if operation is None or operation.operation != graphql.OperationType.QUERY:
        raise BulkQueryInvalid("Bulk queries must contain exactly one query operation")
    fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    if len(fields) != 1 or fields[0].name.value != "orders":
        raise BulkQueryInvalid(
            "not supported by the sandbox: bulk queries other than one top-level `orders` connection"
        )
    fragments = _fragments(document)
    connections, depth = _shape(fields[0].selection_set, fragments, 1)
    if connections + 1 > MAX_CONNECTIONS:
        raise BulkQueryInvalid(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
    if depth > MAX_DEPTH:
        raise BulkQueryInvalid(
            f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_DEPTH}."
        )
    return document, fields[0]


def _fragments(document: graphql.DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _shape(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], depth: int
) -> tuple[int, int]:
    """(number of nested connections, deepest connection nesting) under a connection."""
    count, deepest = 0, depth
    for node in _flatten(selection_set, fragments):
        if node.name.value in ("edges", "node", "nodes"):
            inner_count, inner_depth = _shape(node.selection_set, fragments, depth)
        elif node.selection_set and _looks_like_connection(node, fragments):
            inner_count, inner_depth = _shape(node.selection_set, fragments, depth + 1)
            inner_count += 1
        else:
            inner_count, inner_depth = (
                _shape(node.selection_set, fragments, depth) if node.selection_set else (0, depth)
            )
        count, deepest = count + inner_count, max(deepest, inner_depth)
    return count, deepest


def _looks_like_connection(node: FieldNode, fragments: dict[str, FragmentDefinitionNode]) -> bool:
    return any(child.name.value in ("edges", "nodes") for child in _flatten(node.selection_set, fragments))


def _flatten(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _flatten(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _flatten(fragments[selection.name.value].selection_set, fragments)


def _export(sandbox: ShopifySandbox, operation: BulkOperation, document: graphql.DocumentNode, root: FieldNode) -> None:
    state = sandbox.state
    operation.status = "RUNNING"
    path = sandbox.bulk_dir / f"{operation.id.rsplit('/', 1)[-1]}.jsonl"
    projector = Projector(_fragments(document))
    try:
        with path.open("w", encoding="utf-8") as out:
            roots, objects = _write_rows(state, projector, root, out)
    except Exception as exc:  # a failed export must end FAILED (with the finish webhook), never hang RUNNING
        _finish(sandbox, operation, "FAILED", error=f"{type(exc).__name__}: {exc}")
        return
    operation.root_object_count, operation.object_count = roots, objects
    operation.file_size, operation.path = path.stat().st_size, str(path)
    operation.url = f"{sandbox.base_url or ''}/_sandbox/bulk/{path.name}" if objects else None
    _finish(sandbox, operation, "COMPLETED")


def _write_rows(state: ShopState, projector: Projector, root: FieldNode, out: Any) -> tuple[int, int]:
    arguments = {a.name.value: value_from_ast_untyped(a.value) for a in root.arguments or ()}
    criteria = parse_query(arguments.get("query"))
    sort, reverse = str(arguments.get("sortKey") or "ID"), bool(arguments.get("reverse"))
    node_selection = projector.node_selection(root.selection_set)
    roots = objects = 0
    after = None
    while True:
        with state.lock:
            page = list_orders(state, criteria, sort, reverse, CHUNK, after)
            # Materialized orders may change while this chunk is rendered: render copies, outside the lock.
            chunk = [copy.deepcopy(o) if o.index in state.materialized else o for o, _ in page.orders]
        rows = [row for order in chunk for row in projector.rows(OrderView(state, order), node_selection, None)]
        out.write("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows))
        roots += len(page.orders)
        objects += len(rows)
        if not page.has_next:
            return roots, objects
        after = page.orders[-1][1]


def _finish(sandbox: ShopifySandbox, operation: BulkOperation, status: str, error: str | None = None) -> None:
    with sandbox.state.lock:
        operation.status = status
        operation.completed_at = sandbox.state.clock.now()
        operation.error_code = "INTERNAL_SERVER_ERROR" if error else None
    body = {
        "admin_graphql_api_id": operation.id,
        "completed_at": operation.completed_at.isoformat(timespec="seconds"),
        "created_at": operation.created_at.isoformat(timespec="seconds"),
        "error_code": operation.error_code.lower() if operation.error_code else None,
        "status": status.lower(),
        "type": "query",
    }
    events.bulk_finished(sandbox, body)


class Projector:
    """Renders a view through a selection set, splitting nested connections into child rows."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._children: dict[int, list[FieldNode]] = {}
        self._arguments: dict[int, dict[str, Any]] = {}

    def resolve(self, view: View, node: FieldNode) -> Any:
        name = node.name.value
        if name == "__typename":
            return view.typename
        if not node.arguments:
            return getattr(view, name)()
        arguments = self._arguments.get(id(node))
        if arguments is None:
            arguments = self._arguments[id(node)] = _arguments(node)
        return getattr(view, name)(**arguments)

    def _fields_of(self, node: FieldNode) -> list[FieldNode]:
        """The fields under ``node`` (fragments flattened), computed once per node."""
        known = self._children.get(id(node))
        if known is None:
            known = self._children[id(node)] = list(_flatten(node.selection_set, self._fragments))
        return known

    def node_selection(self, connection: SelectionSetNode | None) -> list[FieldNode]:
        """The fields selected on each node of a connection (``edges { node }`` or ``nodes``)."""
        chosen: list[FieldNode] = []
        for node in _flatten(connection, self._fragments):
            if node.name.value == "nodes":
                chosen.extend(_flatten(node.selection_set, self._fragments))
            elif node.name.value == "edges":
                for inner in _flatten(node.selection_set, self._fragments):
                    if inner.name.value == "node":
                        chosen.extend(_flatten(inner.selection_set, self._fragments))
        return chosen

    def rows(self, view: View, selection: list[FieldNode], parent_id: str | None) -> list[dict[str, Any]]:
        row: dict[str, Any] = {}
        children: list[tuple[FieldNode, Connection]] = []
        for node in selection:
            value = self.resolve(view, node)
            if isinstance(value, Connection):
                children.append((node, value))
            else:
                row[node.alias.value if node.alias else node.name.value] = self._value(value, node)
        if parent_id is not None:
            row["__parentId"] = parent_id
        result = [row]
        own_id = view.id() if hasattr(view, "id") else None
        for node, connection in children:
            inner = self.node_selection(node.selection_set)
            for child in connection.nodes():
                result.extend(self.rows(child, inner, own_id))
        return result

    def _value(self, value: Any, node: FieldNode) -> Any:
        if isinstance(value, list):
            return [self._value(item, node) for item in value]
        if isinstance(value, View):
            return self._object(lambda child: self.resolve(value, child), node)
        if isinstance(value, dict) and node.selection_set:
            return self._object(lambda child: value.get(child.name.value), node)
        return value

    def _object(self, get: Any, node: FieldNode) -> dict[str, Any]:
        result = {}
        for child in self._fields_of(node):
            if child.name.value == "__typename":
                continue
            result[child.alias.value if child.alias else child.name.value] = self._value(get(child), child)
        return result


def _arguments(node: FieldNode) -> dict[str, Any]:
    """Literal arguments of a bulk field, paging ones dropped (bulk reads connections in full)."""
    arguments = {a.name.value: value_from_ast_untyped(a.value) for a in node.arguments or ()}
    for paging in ("first", "last", "after", "before"):
        arguments.pop(paging, None)
    return arguments


def bulk_file(sandbox: ShopifySandbox, name: str) -> Path | None:
    path = sandbox.bulk_dir / name
    return path if path.is_file() else None
