"""Run one GraphQL request against the real Shopify schema, the way Shopify answers it.

Order of checks (each stops the request): parse (syntax error) -> validate against Shopify's 2026-10
schema (graphql-ruby shaped messages and ``extensions.code``) -> every selected field is implemented by
the sandbox ("not supported by the sandbox: Type.field", before anything runs, so a mutation is never
half-applied) -> cost (MAX_COST_EXCEEDED over 1000, THROTTLED when the bucket is short) -> execute under
the shop lock -> ``extensions.cost`` with the actual cost, the difference given back to the bucket.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import graphql
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLObjectType,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    visit,
)
from graphql.utilities.coerce_input_value import coerce_default_value

from integrations.shopify.schema import load_schema, load_types
from sandboxes.shopify.config import MAX_QUERY_COST
from sandboxes.shopify.cost import CostCalculator, LeakyBucket
from sandboxes.shopify.errors import ShopifyError
from sandboxes.shopify.state import ShopState
from sandboxes.shopify.views.base import View, supported_fields

DOCS = "https://shopify.dev/api/usage/rate-limits"
Info = graphql.GraphQLResolveInfo[Any]


#: Documents kept parsed and validated (by their text) for the requests that send them again.
DOCUMENTS = 256


@functools.lru_cache(maxsize=DOCUMENTS)
def parse(query: str) -> DocumentNode:
    """``query``'s document, parsed once per text (raises ``GraphQLError``, which is not cached): clients
    send the same few documents again and again, and the server reads a request's root fields from it
    before the executor checks it."""
    return graphql.parse(query)


class _Rejected(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("rejected document")
        self.errors = errors


@dataclass
class GraphQLResponse:
    body: dict[str, Any]
    is_mutation: bool = False


def with_info(method: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view method that needs the GraphQL ``info`` (e.g. to read a field's directives)."""
    method.wants_info = True  # type: ignore[attr-defined]
    return method


def resolve_field(source: Any, info: Info, **arguments: Any) -> Any:
    name = info.field_name
    if isinstance(source, dict):
        if name in source:
            return source[name]
        raise ShopifyError(f"not supported by the sandbox: {info.parent_type.name}.{name}", "NOT_SUPPORTED_BY_SANDBOX")
    method = None if name.startswith("_") else getattr(source, name, None)
    if method is None:
        raise ShopifyError(f"not supported by the sandbox: {info.parent_type.name}.{name}", "NOT_SUPPORTED_BY_SANDBOX")
    arguments = _accepted_arguments(method, info, arguments)
    if getattr(method, "wants_info", False):
        return method(info, **arguments)
    return method(**arguments)


PAGING = frozenset({"first", "after", "last", "before", "reverse"})


@functools.cache
def _parameters(function: Callable[..., Any]) -> frozenset[str] | None:
    """Argument names a view method takes. ``**page`` stands for the paging arguments only; any other
    ``**kwargs`` (None) means the method checks its arguments itself."""
    parameters = list(inspect.signature(function).parameters.values())
    named = frozenset(p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD)
    extra = next((p.name for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD), None)
    if extra is None:
        return named
    return named | PAGING if extra == "page" else None


def _accepted_arguments(method: Any, info: Info, arguments: dict[str, Any]) -> dict[str, Any]:
    """Drop arguments the view ignores when they only carry the schema default; refuse the others."""
    accepted = _parameters(getattr(method, "__func__", method))
    if accepted is None:
        return arguments
    field = info.parent_type.fields[info.field_name]
    kept = {}
    for name, value in arguments.items():
        if name in accepted:
            kept[name] = value
        elif value != coerce_default_value(field.args[name]):
            what = f"{info.parent_type.name}.{info.field_name}({name}:)"
            raise ShopifyError(f"not supported by the sandbox: {what}", "NOT_SUPPORTED_BY_SANDBOX")
    return kept


def resolve_type(value: Any, info: Info, abstract_type: Any) -> str | None:
    if isinstance(value, View):
        return value.typename
    if isinstance(value, dict):
        return value.get("__typename")
    return None


class Executor:
    """Validates, prices and runs GraphQL documents for one shop."""

    def __init__(self, state: ShopState, bucket: LeakyBucket, roots: Callable[[], tuple[Any, Any]]) -> None:
        self.state = state
        self.bucket = bucket
        self.schema = load_schema()
        self.types = load_types()  # the cost rules' index, read at start-up: no first request waits for it
        self._roots = roots
        # A client sends the same few documents again and again (a bulk export is polled every 0.25 s):
        # each text is parsed (``parse``) and validated once, as a GraphQL server caches its documents. A
        # status poll took 6.4-7.4 ms of the sandbox's CPU, 1.4-2.6 ms with them (taken from the export it polls).
        self._checked = functools.lru_cache(maxsize=DOCUMENTS)(self._check)

    def run(
        self, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None
    ) -> GraphQLResponse:
        try:
            document, unsupported = self._checked(query)
        except _Rejected as rejected:
            return GraphQLResponse({"errors": rejected.errors})
        operation = graphql.get_operation_ast(document, operation_name)
        if operation is None:
            return GraphQLResponse(
                {"errors": [{"message": "An operation name is required", "extensions": {"code": "BAD_REQUEST"}}]}
            )
        if unsupported:
            return GraphQLResponse({"errors": [dict(error) for error in unsupported]})
        return self._priced(document, operation, variables or {}, operation_name)

    def _check(self, query: str) -> tuple[DocumentNode, tuple[dict[str, Any], ...]]:
        """The document, valid against the schema, and the errors for the fields the sandbox lacks; raises
        ``_Rejected`` (not cached: a refused text is checked again each time) with a syntax or validation error."""
        try:
            document = parse(query)
        except GraphQLError as exc:
            raise _Rejected([_syntax_error(exc)]) from None
        problems = graphql.validate(self.schema, document)
        if problems:
            paths = node_paths(document)
            raise _Rejected([shopify_validation_error(p, paths) for p in problems])
        return document, tuple(unsupported_fields(self.schema, document))

    def _priced(
        self, document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any], name: str | None
    ) -> GraphQLResponse:
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        calculator = CostCalculator(self.types, fragments, variables)
        requested = calculator.requested(operation)
        is_mutation = operation.operation == OperationType.MUTATION
        if requested > MAX_QUERY_COST:
            return GraphQLResponse({"errors": [_max_cost_error(requested)]}, is_mutation)
        if not self.bucket.take(requested):
            error = {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": DOCS}}
            return GraphQLResponse({"errors": [error], "extensions": self._cost(requested, None)}, is_mutation)
        body = self._execute(document, operation, variables, name)
        actual = calculator.actual(operation, body.get("data"))
        self.bucket.give_back(requested - actual)
        body["extensions"] = self._cost(requested, actual)
        return GraphQLResponse(body, is_mutation)

    def _execute(
        self, document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any], name: str | None
    ) -> dict[str, Any]:
        query_root, mutation_root = self._roots()
        root = mutation_root if operation.operation == OperationType.MUTATION else query_root
        with self.state.lock:
            result = graphql.execute(
                self.schema,
                document,
                root_value=root,
                variable_values=variables,
                operation_name=name,
                field_resolver=resolve_field,
                type_resolver=resolve_type,
            )
        assert not hasattr(result, "__await__")  # every resolver is synchronous
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [_execution_error(error) for error in result.errors]
        return body

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": self.bucket.status()}
        }


def _locations(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or []]


def _syntax_error(error: GraphQLError) -> dict[str, Any]:
    where = error.locations[0] if error.locations else None
    at = f" at [{where.line}, {where.column}]" if where else ""
    detail = error.message.removeprefix("Syntax Error: ")
    return {"message": f"syntax error, {detail}{at}", "locations": _locations(error)}


def _execution_error(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    formatted: dict[str, Any] = {"message": error.message, "locations": _locations(error), "path": error.path}
    if isinstance(original, ShopifyError):
        formatted["extensions"] = original.extensions
    elif original is not None and not isinstance(original, GraphQLError):
        formatted["message"] = f"Internal error in the Shopify sandbox: {original!r}"
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    else:  # variable coercion and other request errors graphql-core reports itself
        formatted["extensions"] = {"code": "variableMismatch" if error.path is None else "BAD_REQUEST"}
    return formatted


def _max_cost_error(cost: int) -> dict[str, Any]:
    message = (
        f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
        f"See {DOCS} for more information on how the\ncost of a query is calculated.\n\n"
        "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
        "See https://shopify.dev/api/usage/bulk-operations/queries for usage details.\n"
    )
    return {
        "message": message,
        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST, "documentation": DOCS},
    }


# graphql-core's validation messages rewritten the way Shopify's graphql-ruby words them.
_RUBY_ERRORS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[str, dict[str, Any]]]]] = [
    (
        re.compile(r"Cannot query field '(?P<f>\w+)' on type '(?P<t>\w+)'"),
        lambda m: (
            f"Field '{m['f']}' doesn't exist on type '{m['t']}'",
            {"code": "undefinedField", "typeName": m["t"], "fieldName": m["f"]},
        ),
    ),
    (
        re.compile(r"Unknown argument '(?P<a>\w+)' on field '(?P<t>\w+)\.(?P<f>\w+)'"),
        lambda m: (
            f"Field '{m['f']}' doesn't accept argument '{m['a']}'",
            {"code": "argumentNotAccepted", "name": m["f"], "typeName": "Field", "argumentName": m["a"]},
        ),
    ),
    (
        re.compile(r"Argument '\w+\.(?P<f>\w+)\((?P<a>\w+):\)' of type '.*' is required, but it was not provided"),
        lambda m: (
            f"Field '{m['f']}' is missing required arguments: {m['a']}",
            {"code": "missingRequiredArguments", "className": "Field", "name": m["f"], "arguments": m["a"]},
        ),
    ),
    (
        re.compile(r"Field '(?P<f>\w+)' of type '(?P<t>[^']+)' must have a selection of subfields"),
        lambda m: (
            f"Field must have selections (field '{m['f']}' returns {m['t'].strip('[]!')} but has no selections. "
            f"Did you mean '{m['f']} {{ ... }}'?)",
            {"code": "selectionMismatch", "nodeName": f"field '{m['f']}'", "typeName": m["t"].strip("[]!")},
        ),
    ),
    (
        re.compile(r"Variable '\$(?P<v>\w+)' is never used"),
        lambda m: (
            f"Variable ${m['v']} is declared by anonymous query but not used",
            {"code": "variableNotUsed", "variableName": m["v"]},
        ),
    ),
]


def shopify_validation_error(error: GraphQLError, paths: dict[int, list[str]] | None = None) -> dict[str, Any]:
    """A validation error in Shopify's shape: message, locations, path, extensions.code."""
    message, extensions = error.message, {"code": "validationError"}
    for pattern, rewrite in _RUBY_ERRORS:
        match = pattern.search(error.message)
        if match:
            message, extensions = rewrite(match)
            break
    path = next((paths[id(node)] for node in error.nodes or [] if paths and id(node) in paths), [])
    return {"message": message, "locations": _locations(error), "path": path, "extensions": extensions}


def node_paths(document: DocumentNode) -> dict[int, list[str]]:
    """graphql-ruby's error paths: ``["query Name", "orders", "edges", ...]`` for every node of the document."""
    paths: dict[int, list[str]] = {}
    stack: list[str] = []

    class Walk(Visitor):
        def enter(self, node: Any, *_: Any) -> None:
            label = _label(node)
            if label is not None:
                stack.append(label)
            paths[id(node)] = list(stack)

        def leave(self, node: Any, *_: Any) -> None:
            if _label(node) is not None:
                stack.pop()

    visit(document, Walk())
    return paths


def _label(node: Any) -> str | None:
    if isinstance(node, OperationDefinitionNode):
        return f"{node.operation.value} {node.name.value}" if node.name else node.operation.value
    if isinstance(node, FragmentDefinitionNode):
        return f"fragment {node.name.value}"
    if isinstance(node, FieldNode):
        return node.name.value
    return None


def unsupported_fields(schema: graphql.GraphQLSchema, document: DocumentNode) -> list[dict[str, Any]]:
    """Errors for every selected field the sandbox does not implement (empty: all supported)."""
    type_info = TypeInfo(schema)
    problems: list[dict[str, Any]] = []

    class Check(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = type_info.get_parent_type()
            name = node.name.value
            if name.startswith("__") or not isinstance(parent, GraphQLObjectType):
                return
            known = supported_fields(parent.name)
            if known is None or name not in known:
                where = node.loc.source.get_location(node.loc.start) if node.loc and node.loc.source else None
                problems.append(
                    {
                        "message": f"not supported by the sandbox: {parent.name}.{name}",
                        "locations": [{"line": where.line, "column": where.column}] if where else [],
                        "extensions": {"code": "NOT_SUPPORTED_BY_SANDBOX", "typeName": parent.name, "fieldName": name},
                    }
                )

    visit(document, TypeInfoVisitor(type_info, Check()))
    return problems
