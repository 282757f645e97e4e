"""Shopify's own Admin GraphQL schema (2026-10 introspection, ISC licence: see LICENSE beside this file).

Every query dropsync sends, and every query the sandbox answers, is validated against it.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import graphql

SCHEMA_FILE = Path(__file__).with_name("admin_2026-10.json.gz")


@functools.cache
def load_schema() -> graphql.GraphQLSchema:
    with gzip.open(SCHEMA_FILE) as fh:
        data = json.load(fh)["data"]
    return graphql.build_client_schema(data, assume_valid=True)


def validate_document(source: str) -> list[graphql.GraphQLError]:
    """Validation errors of a GraphQL document against the real schema (empty list: valid)."""
    try:
        document = graphql.parse(source)
    except graphql.GraphQLError as exc:
        return [exc]
    return list(graphql.validate(load_schema(), document))
