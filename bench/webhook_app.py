"""The production web app plus a bare endpoint on the same stack (uvicorn + Starlette + middleware)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from worker.observability.logging import configure_logging
from worker.settings import get_settings
from worker.web.app import create_app

configure_logging(get_settings())  # as `dropsync web` does: production JSON lines, one per request


async def bare(request: Request) -> Response:
    await request.body()  # read the same body the webhook endpoint reads
    return JSONResponse({"status": "accepted"})


app = create_app()
app.router.routes.append(Route("/bare", bare, methods=["POST"]))
