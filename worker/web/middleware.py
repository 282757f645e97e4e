"""ASGI middleware: a request id on every log line of a request, an access line, request metrics, and a
deadline on request bodies.

Pure ASGI (not ``BaseHTTPMiddleware``) so the context variables bound here are the ones the endpoint
sees, and streaming bodies are not buffered. The request id comes from ``X-Request-ID`` when the caller
(a platform router) sent a sane one, else a fresh one; it is echoed in the response.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.observability import metrics
from worker.observability.labels import method_label, status_label

log = structlog.get_logger("dropsync.web")

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Probed every few seconds by platforms and Prometheus: logged at debug, not info.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
#: nginx's "client closed request": the client went away before we answered; nobody got a 5xx.
CLIENT_CLOSED = 499


class ObservedRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # Not a server error: no one is left to answer, and a traceback per hang-up would flood the log
            # (and a 500 label would page someone for a client's flaky network).
            status["code"] = CLIENT_CLOSED
        finally:
            _observe(scope, status["code"], time.perf_counter() - started)
            structlog.contextvars.reset_contextvars(**tokens)


class BodyTimeout(Exception):
    """The request body did not arrive in time (raised from ``receive`` inside the endpoint)."""


class BodyDeadline:
    """A request's body must arrive within ``seconds`` of its headers; else 408 and the connection closed.

    Without it a client sending one byte a second holds a connection, a task and its buffer for as long
    as it likes (300 such connections were all held 60 s and never cut). The headers have their own
    deadline in the HTTP protocol (``worker.web.protocol``). Once the whole body is in, ``receive`` is
    passed through untouched (an endpoint may wait on it for the client's disconnect).
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        state = {"body_done": False, "response_started": False}

        async def receive_in_time() -> Message:
            if state["body_done"]:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout from None
            state["body_done"] = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def send_tracked(message: Message) -> None:
            state["response_started"] = state["response_started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_tracked)
        except BodyTimeout:
            if state["response_started"]:
                raise
            await _send_request_timeout(send, self.seconds)


async def _send_request_timeout(send: Send, seconds: float) -> None:
    body = f'{{"error": "request body not received within {seconds:g} s"}}'.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # "Connection: close": the rest of the body may still be on its way; the server closes after the 408.
    await send({"type": "http.response.start", "status": 408, "headers": [*headers, (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


def _route_label(scope: Scope) -> str:
    # The route template, never the raw path: ids in paths would make one series per order.
    route: Any = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


def _observe(scope: Scope, status: int, seconds: float) -> None:
    method, route = method_label(scope.get("method", "GET")), _route_label(scope)
    metrics.HTTP_REQUESTS.labels(method=method, route=route, status=status_label(status)).inc()
    metrics.HTTP_REQUEST_SECONDS.labels(method=method, route=route).observe(seconds)
    path = str(scope.get("path", ""))
    # A made-up path can be 16 KB (the HTTP parser's limit): the log keeps enough to recognise it.
    fields = {"method": str(scope.get("method", ""))[:32], "path": path[:256], "route": route, "status": status}
    if status == CLIENT_CLOSED:
        log.info("client disconnected before the response", **fields, ms=round(seconds * 1000, 1))
        return
    emit = log.debug if scope.get("path") in QUIET_PATHS and status < 500 else log.info
    emit("request", **fields, ms=round(seconds * 1000, 1))
