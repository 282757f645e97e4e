"""Shopify's own Admin GraphQL schema (2026-10 introspection, ISC licence: see LICENSE beside this file).

Every query dropsync sends, and every query the sandbox answers, is validated against it
(``load_schema``). Pricing a query needs much less: each field's type, by name (``load_types``). With
graphql-core's schema built from the 11 MB introspection, every process's first Shopify call took 0.27 s
to estimate its cost (the client does before Shopify has charged the document once); with the index read
from the introspection, 0.12 s.

That index is kept beside the introspection, derived from it (``TYPES_FILE``, 70 KB; ``python -m
integrations.shopify.schema`` writes it again, and a test fails if it no longer matches). Reading the
11 MB introspection to build it left every process that made a Shopify call ~65 MB larger for good: the
parsed document is freed, but the index's objects, made among its pieces, keep the heap's pages from
going back (a backfill's process: 96 MB before its first call, 162 MB after).
"""

from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql

SCHEMA_FILE = Path(__file__).with_name("admin_2026-10.json.gz")
#: ``type_index``'s output for ``SCHEMA_FILE``, as JSON: what ``load_types`` reads.
TYPES_FILE = Path(__file__).with_name("admin_2026-10.types.json.gz")
_LEAF_KINDS = frozenset({"SCALAR", "ENUM"})


@functools.cache
def load_schema() -> graphql.GraphQLSchema:
    with gzip.open(SCHEMA_FILE) as fh:
        data = json.load(fh)["data"]
    return graphql.build_client_schema(data, assume_valid=True)


@dataclass(frozen=True)
class TypeIndex:
    """Each type's kind and the named type of each of its fields (lists and non-null unwrapped)."""

    query: str
    kinds: dict[str, str]
    fields: dict[str, dict[str, str]]

    def field_type(self, parent: str | None, field: str) -> str | None:
        """The named type of ``parent.field`` (None: no such field, or a union, whose fields are its members')."""
        return self.fields.get(parent or "", {}).get(field)

    def is_leaf(self, name: str) -> bool:
        return self.kinds.get(name) in _LEAF_KINDS

    def is_connection(self, name: str) -> bool:
        return self.kinds.get(name) == "OBJECT" and name.endswith("Connection") and "edges" in self.fields[name]


@functools.cache
def load_types() -> TypeIndex:
    """The schema's type index (``TYPES_FILE``; no graphql-core schema is built, nor the introspection read)."""
    import orjson  # a dependency of the worker; imported here so the schema module stays light to import

    data = orjson.loads(gzip.decompress(TYPES_FILE.read_bytes()))
    return TypeIndex(query=data["query"], kinds=data["kinds"], fields=data["fields"])


def type_index(introspection: dict[str, Any]) -> dict[str, Any]:
    """The type index of an introspection's ``__schema``, as ``TYPES_FILE`` holds it: the query type's name,
    each type's kind, and each type's fields with the named type of each (lists and non-null unwrapped)."""
    types = introspection["types"]
    return {
        "query": introspection["queryType"]["name"],
        "kinds": {t["name"]: t["kind"] for t in types},
        "fields": {t["name"]: {f["name"]: _named(f["type"]) for f in t.get("fields") or ()} for t in types},
    }


def read_introspection() -> dict[str, Any]:
    """``SCHEMA_FILE``'s ``__schema``."""
    import orjson

    return orjson.loads(gzip.decompress(SCHEMA_FILE.read_bytes()))["data"]["__schema"]  # type: ignore[no-any-return]


def write_types_file() -> None:
    """Write ``TYPES_FILE`` from ``SCHEMA_FILE`` (the same bytes each time: keys sorted, gzip without a date)."""
    import orjson

    data = orjson.dumps(type_index(read_introspection()), option=orjson.OPT_SORT_KEYS)
    TYPES_FILE.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def _named(reference: dict[str, Any]) -> str:
    while reference.get("ofType"):
        reference = reference["ofType"]
    return str(reference["name"])


def validate_document(source: str) -> list[graphql.GraphQLError]:
    """Validation errors of a GraphQL document against the real schema (empty list: valid)."""
    try:
        document = graphql.parse(source)
    except graphql.GraphQLError as exc:
        return [exc]
    return list(graphql.validate(load_schema(), document))
