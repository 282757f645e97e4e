"""Small helpers for talking to the sandbox over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from sandboxes.shopify import ShopifySandbox


def post(
    sandbox: ShopifySandbox, query: str, variables: dict[str, Any] | None = None, *,
    operation_name: str | None = None, **headers: str,
) -> httpx.Response:  # fmt: skip
    sent = {"X-Shopify-Access-Token": sandbox.config.access_token, **headers}
    body = {"query": query, "variables": variables or {}, "operationName": operation_name}
    return httpx.post(sandbox.graphql_url(), json=body, headers=sent, timeout=30)


def gql(
    sandbox: ShopifySandbox, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None
) -> dict[str, Any]:
    """The JSON body of a 200 answer."""
    response = post(sandbox, query, variables, operation_name=operation_name)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(sandbox: ShopifySandbox, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """``data`` of an answer that must carry no errors."""
    body = gql(sandbox, query, variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


ORDERS_PAGE = """
query Orders($first: Int!, $after: String, $query: String, $sortKey: OrderSortKeys, $reverse: Boolean) {
  orders(first: $first, after: $after, query: $query, sortKey: $sortKey, reverse: $reverse) {
    edges { cursor node { id name createdAt updatedAt displayFinancialStatus displayFulfillmentStatus cancelledAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def all_orders(sandbox: ShopifySandbox, page_size: int = 7, **variables: Any) -> list[dict[str, Any]]:
    """Every order across pages (follows ``endCursor``)."""
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = data(sandbox, ORDERS_PAGE, {"first": page_size, "after": after, **variables})["orders"]
        seen.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


class Receiver:
    """A webhook endpoint on 127.0.0.1 recording every delivery; answers ``statuses`` in turn, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        import http.server
        import threading

        self.deliveries: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.deliveries.append({"headers": dict(self.headers), "body": body})
                    status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def topics(self) -> list[str]:
        return [d["headers"]["X-Shopify-Topic"] for d in self.deliveries]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.deliveries)


def eventually(check: Any, timeout: float = 5.0) -> Any:
    """Poll ``check()`` until it returns something truthy (or the timeout passes); returns the last value."""
    import time

    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(0.05)
        value = check()
    return value
