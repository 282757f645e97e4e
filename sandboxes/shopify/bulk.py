"""Bulk operations: ``bulkOperationRunQuery`` -> a JSONL file served by the sandbox itself.

The query is validated against Shopify's schema and the bulk rules (one top-level connection, ``orders``
being the one the sandbox serves; at most 5 connections; nesting depth 2; at most 5 running per shop).
Rows: one JSON object per node; a node found inside a nested connection gets ``__parentId`` (the id of
the object it hangs under) and follows its parent, as on Shopify. Connections are read in full (``first``
is ignored). The file is written by a background thread; ``bulk_operations/finish`` fires when it is done.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter, methodcaller
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import graphql
import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

from sandboxes.shopify import events
from sandboxes.shopify.executor import shopify_validation_error, unsupported_fields
from sandboxes.shopify.listing import Entry, SortKey, built, entry_key, listed, sort_field
from sandboxes.shopify.model import Order
from sandboxes.shopify.search import OrderFilter, parse_query
from sandboxes.shopify.state import BulkOperation
from sandboxes.shopify.views.base import View
from sandboxes.shopify.views.orders import OrderView
from sandboxes.shopify.views.records import BulkOperationView

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox
    from sandboxes.shopify.state import ShopState

MAX_CONNECTIONS = 5
MAX_DEPTH = 2
MAX_RUNNING = 5
# Orders listed per lock hold: API requests interleave with an export. Small, as orders a filter had to build
# (and copies of materialized ones) stay alive until rendered: see _next_chunk.
CHUNK = 50


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
    failing = sandbox.faults.strikes("export_failed", 0.0, {"bulkOperationRunQuery"})
    thread = threading.Thread(target=_export, args=(sandbox, operation, document, root_field, failing), daemon=True,
                              name="bulk")  # fmt: skip
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


def _export(
    sandbox: ShopifySandbox, operation: BulkOperation, document: graphql.DocumentNode, root: FieldNode,
    failing: bool = False,
) -> None:  # fmt: skip
    """Write the operation's file; ``failing`` (a one-shot fault): break after the first chunk of orders."""
    state = sandbox.state
    operation.status = "RUNNING"
    path = sandbox.bulk_dir / f"{operation.id.rsplit('/', 1)[-1]}.jsonl"
    try:
        plan = compile_rows(root, _fragments(document))
        with path.open("wb") as out:
            roots, objects = _write_rows(state, plan, root, out, failing)
    except Exception as exc:  # a failed export must end FAILED (with the finish webhook), never hang RUNNING
        _finish(sandbox, operation, "FAILED", error=f"{type(exc).__name__}: {exc}")
        return
    operation.root_object_count, operation.object_count = roots, objects
    operation.file_size, operation.path = path.stat().st_size, str(path)
    operation.url = f"{sandbox.base_url or ''}/_sandbox/bulk/{path.name}" if objects else None
    _finish(sandbox, operation, "COMPLETED")


def _write_rows(
    state: ShopState, plan: RowPlan, root: FieldNode, out: BinaryIO, failing: bool = False
) -> tuple[int, int]:
    arguments = {a.name.value: value_from_ast_untyped(a.value) for a in root.arguments or ()}
    criteria = parse_query(arguments.get("query"))
    time_field = sort_field(str(arguments.get("sortKey") or "ID"))
    reverse = bool(arguments.get("reverse"))
    roots = objects = 0
    start: SortKey | None = None
    while True:
        chunk, start = _next_chunk(state, criteria, time_field, reverse, start)
        roots += len(chunk)
        text = bytearray()
        while chunk:
            rows: list[dict[str, Any]] = []
            plan.rows(OrderView(state, built(state, chunk.popleft())), None, rows)
            text += b"".join([orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows])
            objects += len(rows)
        out.write(text)
        if failing:
            raise RuntimeError(f"export broken after {roots} orders (the sandbox's export_failed fault)")
        if start is None:
            return roots, objects


def _next_chunk(
    state: ShopState, criteria: OrderFilter, time_field: str | None, reverse: bool, start: SortKey | None
) -> tuple[deque[Entry], SortKey | None]:
    """The next CHUNK listed orders and the sort key after which the next chunk starts (None: the last chunk).

    Only the listing holds the lock. Seeded orders come as indexes and are built one at a time as the
    caller renders them (a seeded order is a pure function of its index: built later, it comes out the
    same), so about one order and its rows are alive at a time: they are garbage before a young-generation
    collection sees them, and nothing piles up for the collector's full passes, which walk the server's
    whole heap (~0.1-0.2 s each; they took a third of an export when whole chunks were built up front).
    """
    with state.lock:
        entries, more = listed(state, criteria, time_field, reverse, start, CHUNK)
        chunk = deque(_detached(state, entry) for entry in entries)
        return chunk, entry_key(state, entries[-1], time_field) if more else None


def _detached(state: ShopState, entry: Entry) -> Entry:
    """A copy of a materialized order: it may change while the chunk is rendered, outside the lock."""
    return copy.deepcopy(entry) if isinstance(entry, Order) and entry.index in state.materialized else entry


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


# --- projection: the selection set compiled once per export ----------------------------------------------
# Compiling resolves fragments, aliases, arguments and connection splitting once, so the per-object work is
# the views' own methods plus one loop per object: an export renders millions of objects through the same
# few dozen fields. A field is (response key, read, render): ``read`` takes the field's value off a view (a
# C-level ``methodcaller``) or off a plain dict (``dict.get``); ``render`` is None for leaf fields, else it
# renders the object(s) read.

Getter = Callable[[Any], Any]
Field = tuple[str, Getter, Getter | None]


@dataclass(frozen=True)
class RowPlan:
    """The rows of one connection node: its own fields, then the nodes of each nested connection.

    A node found inside a nested connection becomes its own row with ``__parentId`` and follows its
    parent (depth first), as on Shopify.
    """

    fields: tuple[Field, ...]
    connections: tuple[tuple[Getter, RowPlan], ...]

    def rows(self, view: View, parent_id: str | None, out: list[dict[str, Any]]) -> None:
        row = _fill(view, self.fields)
        if parent_id is not None:
            row["__parentId"] = parent_id
        out.append(row)
        if self.connections:
            own_id = view.id() if hasattr(view, "id") else None
            for read, child in self.connections:
                for node in read(view).nodes():
                    child.rows(node, own_id, out)


def _fill(value: Any, fields: tuple[Field, ...]) -> dict[str, Any]:
    """The object of ``fields`` read off ``value`` (a plain loop: cheaper than a comprehension's frame)."""
    result: dict[str, Any] = {}
    for key, read, render in fields:
        result[key] = read(value) if render is None else render(read(value))
    return result


def compile_rows(connection: FieldNode, fragments: dict[str, FragmentDefinitionNode]) -> RowPlan:
    """The plan for the nodes of ``connection`` (``edges { node }`` or ``nodes``).

    A field selecting ``edges`` or ``nodes`` is a nested connection (the test the bulk rules count with).
    """
    fields: list[Field] = []
    connections: list[tuple[Getter, RowPlan]] = []
    for node in _node_fields(connection, fragments):
        if node.name.value == "__typename":
            fields.append((_key(node), attrgetter("typename"), None))
        elif node.selection_set and _looks_like_connection(node, fragments):
            connections.append((_call(node), compile_rows(node, fragments)))
        else:
            fields.append((_key(node), _call(node), _renderer(node, fragments)))
    return RowPlan(tuple(fields), tuple(connections))


def _node_fields(connection: FieldNode, fragments: dict[str, FragmentDefinitionNode]) -> list[FieldNode]:
    """The fields selected on each node of a connection."""
    chosen: list[FieldNode] = []
    for node in _flatten(connection.selection_set, fragments):
        if node.name.value == "nodes":
            chosen.extend(_flatten(node.selection_set, fragments))
        elif node.name.value == "edges":
            for inner in _flatten(node.selection_set, fragments):
                if inner.name.value == "node":
                    chosen.extend(_flatten(inner.selection_set, fragments))
    return chosen


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _call(node: FieldNode) -> Getter:
    """Calls the view method named by the field with its literal arguments."""
    return methodcaller(node.name.value, **_arguments(node))


def _renderer(node: FieldNode, fragments: dict[str, FragmentDefinitionNode]) -> Getter | None:
    """None for a leaf field; else renders its value: a view, a plain dict, None, or a list of those.

    Views and dicts are told apart per value: some types are built as dicts that hold views (an assigned
    location's ``location``). ``__typename`` is left out of nested objects, as the sandbox always did.
    """
    if not node.selection_set:
        return None
    children = [child for child in _flatten(node.selection_set, fragments) if child.name.value != "__typename"]
    renders = [_renderer(child, fragments) for child in children]
    from_view = tuple((_key(c), _call(c), r) for c, r in zip(children, renders, strict=True))
    from_dict = tuple((_key(c), methodcaller("get", c.name.value), r) for c, r in zip(children, renders, strict=True))

    def render(value: Any) -> Any:
        if isinstance(value, dict):
            return _fill(value, from_dict)
        if isinstance(value, View):
            return _fill(value, from_view)
        if isinstance(value, list):
            return [render(item) for item in value]
        return value

    return render


def _arguments(node: FieldNode) -> dict[str, Any]:
    """Literal arguments of a bulk field, paging ones dropped (bulk reads connections in full)."""
    arguments = {a.name.value: value_from_ast_untyped(a.value) for a in node.arguments or ()}
    for paging in ("first", "last", "after", "before"):
        arguments.pop(paging, None)
    return arguments


def bulk_file(sandbox: ShopifySandbox, name: str) -> Path | None:
    path = sandbox.bulk_dir / name
    return path if path.is_file() else None
