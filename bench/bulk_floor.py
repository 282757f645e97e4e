"""The floor of a backfill: the same bulk export downloaded and parsed by a bare script, no database.

Runs the export dropsync runs (the text of ``BulkOrdersQuery.graphql``), polls it every 0.25 s,
downloads the JSONL and parses every row with orjson. Imports nothing of dropsync: it is what any
client of the shop would pay before writing a single row. Prints one JSON line: wall seconds (export,
download + parse, total), rows, bytes, peak RSS.

Usage: python -m bench.bulk_floor --api-url http://127.0.0.1:PORT --token shpat_x
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

QUERY = Path(__file__).resolve().parent.parent / "integrations" / "shopify" / "graphql" / "BulkOrdersQuery.graphql"
RUN = (
    "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { message } } }"
)
POLL = "query($id: ID!) { bulkOperation(id: $id) { status url objectCount } }"


def _graphql(endpoint: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = orjson.dumps({"query": query, "variables": variables})
    headers = {"X-Shopify-Access-Token": token, "Content-Type": "application/json"}
    request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        data: dict[str, Any] = orjson.loads(response.read())
    if data.get("errors"):
        raise RuntimeError(str(data["errors"]))
    return dict(data["data"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--api-version", default="2026-10")
    args = parser.parse_args()
    endpoint = f"{args.api_url.rstrip('/')}/admin/api/{args.api_version}/graphql.json"
    text = "\n".join(line for line in QUERY.read_text().splitlines() if not line.lstrip().startswith("#"))
    started = time.monotonic()
    operation = _graphql(endpoint, args.token, RUN, {"q": text})["bulkOperationRunQuery"]["bulkOperation"]
    while True:
        state = _graphql(endpoint, args.token, POLL, {"id": operation["id"]})["bulkOperation"]
        if state["status"] not in ("CREATED", "RUNNING"):
            break
        time.sleep(0.25)
    exported = time.monotonic()
    rows = size = 0
    with urllib.request.urlopen(state["url"], timeout=300) as response:
        pending = b""
        while chunk := response.read(1 << 20):
            size += len(chunk)
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if line:
                    orjson.loads(line)
                    rows += 1
        if pending:
            orjson.loads(pending)
            rows += 1
    done = time.monotonic()
    print(json.dumps({
        "status": state["status"], "rows": rows, "bytes": size, "export_s": exported - started,
        "download_parse_s": done - exported, "total_s": done - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
