"""ASGI middleware: a request id on every log line of a request, an access line, request metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) so the context variables bound here are the ones the endpoint
sees, and streaming bodies are not buffered. The request id comes from ``X-Request-ID`` when the caller
(a platform router) sent a sane one, else a fresh one; it is echoed in the response.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.observability import metrics

log = structlog.get_logger("dropsync.web")

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Probed every few seconds by platforms and Prometheus: logged at debug, not info.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


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
        finally:
            _observe(scope, status["code"], time.perf_counter() - started)
            structlog.contextvars.reset_contextvars(**tokens)


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
    method, route = scope.get("method", "GET"), _route_label(scope)
    metrics.HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    metrics.HTTP_REQUEST_SECONDS.labels(method=method, route=route).observe(seconds)
    emit = log.debug if scope.get("path") in QUIET_PATHS and status < 500 else log.info
    emit("request", method=method, path=scope.get("path"), route=route, status=status, ms=round(seconds * 1000, 1))
