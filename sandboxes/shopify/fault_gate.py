"""The fault switches that act before a request runs, for the GraphQL endpoint and the REST API alike:
added latency, a 502/503 without running it, a hold long enough for the client to time out."""

from __future__ import annotations

import asyncio
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox


async def before_run(sandbox: ShopifySandbox, headers: dict[str, str], fields: AbstractSet[str]) -> Response | None:
    """The early answer an injected fault gives (None: run the request)."""
    faults = sandbox.faults
    if faults.config.latency_seconds:
        await asyncio.sleep(faults.config.latency_seconds)
    if faults.strikes("error", faults.config.error_rate, fields):
        faults.count("errors")
        status = 502 if faults.roll(0.5) else 503
        return JSONResponse({"errors": "Service Unavailable" if status == 503 else "Bad Gateway"}, status, headers)
    if faults.strikes("timeout", faults.config.timeout_rate, fields):
        faults.count("timeouts")
        await asyncio.sleep(faults.config.timeout_seconds)
    return None
