"""The HTTP face of the sandbox: Shopify's Admin GraphQL endpoint, bulk result files, the control API.

``POST /admin/api/{version}/graphql.json`` needs ``X-Shopify-Access-Token`` (401 otherwise, with Shopify's
body). Fault switches act here: 5xx without running the request, added latency, a hold long enough for the
client to time out (the request still runs afterwards), and "run it, then break the connection".
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import graphql
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sandboxes.shopify.control_http import control_routes
from sandboxes.shopify.executor import parse
from sandboxes.shopify.fault_gate import before_run
from sandboxes.shopify.requestctx import with_request_base
from sandboxes.shopify.rest.api import rest_routes
from sandboxes.shopify.versions import HEADER as VERSION_HEADER
from sandboxes.shopify.versions import served_version

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class BrokenResponse(Response):
    """Announces the full body, sends half, then returns: the server closes the connection mid-response."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})


def build_app(sandbox: ShopifySandbox) -> Starlette:
    async def graphql_endpoint(request: Request) -> Response:
        return await _graphql(sandbox, request)

    async def bulk_file(request: Request) -> Response:
        name = request.path_params["name"]
        path = sandbox.bulk_dir / name
        if "/" in name or not name.endswith(".jsonl") or not path.is_file():
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        return FileResponse(path, media_type="application/jsonl")

    routes = [
        Route("/admin/api/{version}/graphql.json", graphql_endpoint, methods=["POST"]),
        Route("/_sandbox/bulk/{name}", bulk_file, methods=["GET"]),
        *control_routes(sandbox),
        *rest_routes(sandbox),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _json_http_error})


async def _json_http_error(request: Request, exc: Exception) -> Response:
    """Shopify answers JSON everywhere: an unknown path is ``404 {"errors": "Not Found"}``; a method the sandbox
    does not serve on a known path (creating orders over REST ...) says so."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = "Not Found" if status == 404 else (exc.detail if isinstance(exc, HTTPException) else "Internal Error")
    if status == 405:
        message = f"not supported by the sandbox: {request.method} {request.url.path}"
    return JSONResponse({"errors": message}, status_code=status, headers=getattr(exc, "headers", None))


async def _graphql(sandbox: ShopifySandbox, request: Request) -> Response:
    request_id = str(uuid.uuid4())
    headers = {"X-Request-Id": request_id}
    served = served_version(request.path_params["version"], sandbox.config.api_version)
    if served is None:
        return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)
    headers[VERSION_HEADER] = served
    if request.headers.get("x-shopify-access-token") != sandbox.config.access_token:
        return JSONResponse({"errors": INVALID_TOKEN}, status_code=401, headers=headers)
    try:
        payload = await _read_payload(request)
    except ClientDisconnect:
        return Response(status_code=499)
    if isinstance(payload, str):
        return JSONResponse({"errors": {"query": [payload]}}, status_code=400, headers=headers)
    # The body is read first: a request held by the timeout switch still runs after the client gave up.
    fields = root_fields(payload["query"])
    early = await before_run(sandbox, headers, fields)
    if early is not None:
        return early
    result = await run_in_threadpool(
        with_request_base,
        _address(request),
        sandbox.executor.run,
        payload["query"],
        payload["variables"],
        payload["operationName"],
    )
    if sandbox.faults.strikes("drop", sandbox.faults.config.drop_response_rate, fields):
        sandbox.faults.count("dropped_responses")
        return BrokenResponse(json.dumps(result.body).encode(), media_type="application/json", headers=headers)
    return JSONResponse(result.body, headers=headers)


def _address(request: Request) -> str:
    """``scheme://host[:port]`` as the client addressed the sandbox (a hosts entry, TLS): links follow it."""
    return f"{request.url.scheme}://{request.url.netloc}"


def root_fields(query: str) -> frozenset[str]:
    """Names of the operation's root fields (empty when the document does not parse: no fault matches)."""
    try:
        document = parse(query)  # the executor's parsed documents: each text parsed once
    except graphql.GraphQLError:
        return frozenset()
    return frozenset(
        selection.name.value
        for definition in document.definitions
        if isinstance(definition, graphql.OperationDefinitionNode)
        for selection in definition.selection_set.selections
        if isinstance(selection, graphql.FieldNode)
    )


async def _read_payload(request: Request) -> dict[str, Any] | str:
    """``{"query", "variables", "operationName"}`` from a JSON body, or a one-line reason it is bad."""
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "Request body is not valid JSON"
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return "Required parameter missing or invalid: query"
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return "variables must be a JSON object"
    name = body.get("operationName")
    return {"query": body["query"], "variables": variables, "operationName": name if isinstance(name, str) else None}
