"""A feature route module as ``ROUTE_MODULES`` expects one: ``routes`` plus metrics and logs of its own."""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from worker.observability import metrics
from worker.observability.logging import bind_context

log = structlog.get_logger("tests.feature")


async def receive(request: Request) -> Response:
    topic = request.headers.get("x-shopify-topic", "")
    if not topic:
        metrics.WEBHOOKS_REJECTED.labels(reason="missing_header").inc()
        return JSONResponse({"error": "missing topic"}, status_code=400)
    bind_context(shop=1, order=int(request.path_params["order"]))
    metrics.WEBHOOKS_RECEIVED.labels(topic=topic).inc()
    log.info("webhook stored", topic=topic, customer_email="ann@example.com")
    return JSONResponse({"ok": True})


routes: list[BaseRoute] = [Route("/feature/{order:int}", receive, methods=["POST"])]
