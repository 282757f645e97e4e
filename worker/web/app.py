"""The ASGI application of the web process (``dropsync web``; the Procfile's ``web``).

Routes of its own: ``GET /healthz`` (200 while the process serves: the platform's liveness check),
``GET /readyz`` (200 or 503 with a JSON body naming what failed: see ``worker.web.health``) and
``GET /metrics`` (Prometheus text). ``/metrics`` and the details of ``/readyz`` are protected by
``DROPSYNC_OPS_TOKEN`` (see ``worker.observability.access``). A feature adds its routes by listing its module in
:data:`ROUTE_MODULES`; the module exposes ``routes: list[starlette.routing.BaseRoute]``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from worker.db import get_engine, make_engine
from worker.observability.access import WWW_AUTHENTICATE, OpsGuard
from worker.observability.exposition import CONTENT_TYPE, ScrapeView, render, web_view
from worker.settings import Settings, SettingsError, get_settings
from worker.web.health import Readiness
from worker.web.middleware import BodyDeadline, ObservedRequests
from worker.wiring import wire

#: Modules whose ``routes`` the app mounts, in order (e.g. "worker.mirror.receiver" for POST /webhooks/shopify).
ROUTE_MODULES: list[str] = ["worker.mirror.receiver"]
#: Modules whose ``async def on_startup() -> None`` runs before the app serves (e.g. the receiver learns
#: the configured shop). A hook must not raise for a dependency that is down: it logs and retries later.
STARTUP_MODULES: list[str] = ["worker.mirror.receiver"]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    readiness: Readiness = request.app.state.readiness
    results = await readiness.run()
    failed = [result.name for result in results if not result.ok]
    body: dict[str, object] = {"status": "not ready" if failed else "ready"}
    if _ops_allowed(request):  # the details name internal hosts and errors: operators only
        body |= {"failed": failed, "checks": {result.name: result.as_json() for result in results}}
    return JSONResponse(body, status_code=503 if failed else 200, headers={"Cache-Control": "no-store"})


def metrics_endpoint(request: Request) -> Response:
    # Sync on purpose: Starlette runs it in a worker thread, so the ledger queries never block the loop.
    if not _ops_allowed(request):
        return JSONResponse(
            {"error": "send Authorization: Bearer <DROPSYNC_OPS_TOKEN>"},
            status_code=401,
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    view: ScrapeView = request.app.state.metrics_view
    return Response(render(view), media_type=CONTENT_TYPE)


def _ops_allowed(request: Request) -> bool:
    guard: OpsGuard = request.app.state.ops_guard
    return guard.allows(request.headers.get("authorization"))


def feature_routes(modules: list[str]) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in modules:
        module = importlib.import_module(name)
        found = getattr(module, "routes", None)
        if not isinstance(found, list):
            raise TypeError(f"{name} is listed in ROUTE_MODULES but has no `routes: list[BaseRoute]`")
        routes.extend(found)
    return routes


async def run_startup_hooks(modules: list[str]) -> None:
    for name in modules:
        hook = getattr(importlib.import_module(name), "on_startup", None)
        if hook is None:
            raise TypeError(f"{name} is listed in STARTUP_MODULES but has no `async def on_startup()`")
        await hook()


def _engine_factory(settings: Settings) -> tuple[Callable[[], Engine], Engine | None]:
    """The process's shared engine when ``settings`` is the environment's; else one engine of our own."""
    try:
        shared = get_settings().sqlalchemy_url == settings.sqlalchemy_url
    except SettingsError:
        shared = False
    if shared:
        return get_engine, None
    own = make_engine(settings.sqlalchemy_url)
    return (lambda: own), own


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    wire()  # the web process runs the same reactions as the worker (worker.wiring)
    engine, own_engine = _engine_factory(settings)
    readiness = Readiness(settings, engine)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await run_startup_hooks(STARTUP_MODULES)
        gc.freeze()  # what start-up loaded is permanent: the collector need never walk it again
        yield
        readiness.close()
        if own_engine is not None:
            own_engine.dispose()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *feature_routes(ROUTE_MODULES),
    ]
    middleware = [Middleware(ObservedRequests), Middleware(BodyDeadline, seconds=settings.web_read_timeout_seconds)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.ops_guard = OpsGuard(settings)
    app.state.readiness = readiness
    app.state.metrics_view = web_view(engine)
    return app
