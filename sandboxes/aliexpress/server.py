"""The sandbox's HTTP face: the gateway's URL shapes, signature check, error JSON and fault switches.

- ``POST|GET /sync?method=<api>``: business APIs (``aliexpress.trade.ds.order.get``,
  ``aliexpress.ds.order.tracking.get``). Parameters from the query string and the form body.
- ``POST|GET /rest/auth/token/refresh``: a new token pair for the current refresh token.
- Errors use the gateway's shapes: ``{"error_response": {"type", "code", "msg", "request_id"}}`` on
  ``/sync`` and ``{"type", "code", "message", "request_id"}`` on ``/rest`` (e.g. a wrong signature is
  ``IncompleteSignature`` / "The request signature does not conform to platform standards").
- ``/_sandbox/...``: JSON control endpoints for a sandbox run from the command line (demos).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from tenacity import wait_none

from integrations.aliexpress import signing
from integrations.aliexpress.client import AliExpressClient
from sandboxes.aliexpress.clock import SandboxClock
from sandboxes.aliexpress.world import AliExpressSandboxConfig, SandboxError, SandboxOrder, World

FAULT_KINDS = ("http_500", "isp_error", "rate_limit", "malformed", "not_json", "missing_status", "timeout")
SIGNATURE_MESSAGE = "The request signature does not conform to platform standards"
TOKEN_MESSAGE = "The specified access token is invalid or expired"


@dataclass
class Faults:
    """Switches a test flips: the next N responses fail in a given way; every response is delayed."""

    latency_seconds: float = 0.0
    queue: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> str | None:
        with self.lock:
            return self.queue.pop(0) if self.queue else None


class AliExpressSandbox:
    """The sandbox: a ``World`` (orders on a clock) behind the gateway's HTTP interface."""

    def __init__(self, config: AliExpressSandboxConfig | None = None, clock: SandboxClock | None = None) -> None:
        self.config = config or AliExpressSandboxConfig()
        self.clock = clock or SandboxClock()
        self.world = World(self.config, self.clock)
        self.faults = Faults()
        self.requests: list[dict[str, str]] = []
        self.base_url: str | None = None
        self.app = self._build_app()
        for _ in range(self.config.demo_orders):
            self._seed_demo_order()

    # -- control API (tests call these directly) ---------------------------------------------------

    def create_order(self, amount: Decimal | str = "10.00", currency: str = "USD", **kwargs: Any) -> str:
        return self.world.create_order(amount, currency, **kwargs)

    def pay(self, order_id: str) -> None:
        self.world.pay(order_id)

    def pass_risk_check(self, order_id: str) -> None:
        self.world.pass_risk_check(order_id)

    def reject_risk_check(self, order_id: str) -> None:
        self.world.reject_risk_check(order_id)

    def ship(self, order_id: str, tracking_number: str, *, partial: bool = False) -> None:
        self.world.ship(order_id, tracking_number, partial=partial)

    def request_cancellation(self, order_id: str) -> None:
        self.world.request_cancellation(order_id)

    def seller_accepts_cancellation(self, order_id: str) -> None:
        self.world.seller_accepts_cancellation(order_id)

    def seller_refuses_cancellation(self, order_id: str) -> None:
        self.world.seller_refuses_cancellation(order_id)

    def deliver(self, order_id: str) -> None:
        self.world.deliver(order_id)

    def confirm_receipt(self, order_id: str) -> None:
        self.world.confirm_receipt(order_id)

    def extend_protection(self, order_id: str, days: int) -> None:
        self.world.extend_protection(order_id, days)

    def open_dispute(self, order_id: str, reason: str = "not_received") -> None:
        self.world.open_dispute(order_id, reason)

    def resolve_dispute(
        self,
        order_id: str,
        *,
        refund: bool | None = None,
        outcome: str | None = None,
        amount: Decimal | str | None = None,
    ) -> None:
        self.world.resolve_dispute(order_id, refund=refund, outcome=outcome, amount=amount)

    def return_received(self, order_id: str) -> None:
        self.world.return_received(order_id)

    def force_status(self, order_id: str, order_status: str, end_reason: str | None = None) -> None:
        self.world.force_status(order_id, order_status, end_reason)

    def order(self, order_id: str) -> SandboxOrder:
        return self.world.order(order_id)

    def paid_order(self, amount: str = "10.00", currency: str = "USD", **kwargs: Any) -> str:
        """Shortcut: an order placed, paid and through the risk check (awaiting shipment)."""
        oid = self.create_order(amount, currency, **kwargs)
        self.pay(oid)
        self.pass_risk_check(oid)
        return oid

    # faults
    def fail_next(self, kind: str, count: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise SandboxError(f"unknown fault {kind!r} (one of {', '.join(FAULT_KINDS)})")
        with self.faults.lock:
            self.faults.queue.extend([kind] * count)

    def set_latency(self, seconds: float) -> None:
        self.faults.latency_seconds = max(0.0, seconds)

    def expire_token(self) -> None:
        self.world.expire_token()

    @property
    def access_token(self) -> str:
        return self.world.access_token

    def client(self, **overrides: Any) -> AliExpressClient:
        """A client for this running sandbox with its credentials, on its clock, without retry sleeps."""
        if self.base_url is None:
            raise SandboxError("the sandbox is not serving (use `with sandbox.serve():`)")
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "app_key": self.config.app_key,
            "app_secret": self.config.app_secret,
            "access_token": self.world.access_token,
            "refresh_token": self.world.refresh_token,
            "gateway_timezone": self.config.gateway_timezone,
            "timeout": 5.0,
            "retry_wait": wait_none(),
            "now": self.clock.now,
            **overrides,
        }
        return AliExpressClient(**options)

    # -- serving ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Run on ``host:port`` (0: a free port) in a thread; yields the base URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it, Nagle + delayed ACK add ~40 ms to every response
        # (uvicorn writes headers and body separately, and asyncio leaves a passed-in socket as it is).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the AliExpress sandbox failed to start")
            threading.Event().wait(0.01)
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        try:
            yield self.base_url
        finally:
            self.base_url = None
            server.should_exit = True
            thread.join(10)
            sock.close()

    def run_forever(self, host: str = "127.0.0.1", port: int = 8702) -> None:
        uvicorn.run(self.app, host=host, port=port, log_level="info", lifespan="off")

    # -- HTTP ---------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        methods = ["GET", "POST"]
        return Starlette(
            routes=[
                Route("/sync", self._sync, methods=methods),
                Route("/rest/auth/token/refresh", self._refresh, methods=methods),
                Route("/_sandbox/orders", self._control_create, methods=["POST"]),
                Route("/_sandbox/orders/{order_id}", self._control_show, methods=["GET"]),
                Route("/_sandbox/orders/{order_id}/{action}", self._control_action, methods=["POST"]),
                Route("/_sandbox/clock", self._control_clock, methods=["GET", "POST"]),
                Route("/_sandbox/faults", self._control_faults, methods=["POST"]),
            ]
        )

    async def _params(self, request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.method == "POST" and "form-urlencoded" in request.headers.get("content-type", ""):
            # Parsed by hand: starlette's form() needs python-multipart, a dependency for one line.
            body = (await request.body()).decode("utf-8", errors="replace")
            params.update(urllib.parse.parse_qsl(body, keep_blank_values=True))
        self.requests.append(params)
        return params

    async def _fault(self, gateway: str) -> tuple[Response | None, str | None]:
        if self.faults.latency_seconds:
            await asyncio.sleep(self.faults.latency_seconds)
        kind = self.faults.take()
        return self._fault_response(gateway, kind) if kind else None, kind

    def _fault_response(self, gateway: str, kind: str) -> Response | None:
        if kind == "timeout":
            # A response that never comes in time: the client's timeout must fire.
            return _SlowResponse()
        if kind == "http_500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if kind == "not_json":
            return PlainTextResponse("<html>502 Bad Gateway</html>", status_code=200)
        if kind == "isp_error":
            return self._error(gateway, "isp.service-unavailable", "The service is temporarily unavailable", "ISP")
        if kind == "rate_limit":
            return self._error(gateway, "ApiCallLimit", "This ban will last for 1 more seconds")
        return None  # malformed / missing_status shape the body: see _business

    def _error(self, gateway: str, code: str, message: str, kind: str = "ISV") -> JSONResponse:
        rid = uuid.uuid4().hex[:21]
        if gateway == "rest":
            return JSONResponse({"type": kind, "code": code, "message": message, "request_id": rid})
        return JSONResponse({"error_response": {"type": kind, "code": code, "msg": message, "request_id": rid}})

    def _check(self, params: dict[str, str], gateway: str, api_path: str | None) -> Response | None:
        missing = [p for p in ("app_key", "timestamp", "sign_method", "sign") if not params.get(p)]
        if missing:
            return self._error(gateway, "MissingParameter", f"The input parameter {missing[0]} that is mandatory")
        if params["app_key"] != self.config.app_key:
            return self._error(gateway, "InvalidAppKey", "The specified App Key is invalid")
        if params["sign_method"] != signing.SIGN_METHOD:
            return self._error(gateway, "InvalidSignMethod", "The specified signature method is not supported")
        if not signing.signature_matches(params, self.config.app_secret, api_path):
            return self._error(gateway, "IncompleteSignature", SIGNATURE_MESSAGE)
        return None

    async def _sync(self, request: Request) -> Response:
        params = await self._params(request)
        rejected = self._check(params, "sync", None)
        if rejected is not None:
            return rejected
        fault, kind = await self._fault("sync")
        if fault is not None:
            return fault
        if params.get("session") != self.world.access_token:
            return self._error("sync", "IllegalAccessToken", TOKEN_MESSAGE)
        return self._business(params, kind)

    def _business(self, params: dict[str, str], fault: str | None) -> Response:
        method = params.get("method", "")
        key = method.replace(".", "_") + "_response"
        if fault == "malformed":
            return JSONResponse({key: {"result": "not-an-object", "request_id": uuid.uuid4().hex[:21]}})
        if method == "aliexpress.trade.ds.order.get":
            try:
                order_id = str(json.loads(params.get("single_order_query", "{}"))["order_id"])
            except (ValueError, KeyError, TypeError):
                return self._error("sync", "MissingParameter", "single_order_query.order_id is mandatory")
            result = self.world.order_result(order_id)
            if result is None:
                return self._error("sync", "ORDER_NOT_EXIST", f"The order {order_id} does not exist")
        elif method == "aliexpress.ds.order.tracking.get":
            order_id = params.get("ae_order_id", "")
            result = self.world.tracking_result(order_id)
            if result is None:
                return self._error("sync", "ORDER_NOT_EXIST", f"The order {order_id} does not exist")
        else:
            return self._error("sync", "InvalidApiPath", f"The specified API {method!r} does not exist")
        if fault == "missing_status":
            result = {k: v for k, v in result.items() if k != "order_status"}
        return JSONResponse({key: {"result": result, "request_id": uuid.uuid4().hex[:21]}})

    async def _refresh(self, request: Request) -> Response:
        params = await self._params(request)
        rejected = self._check(params, "rest", "/auth/token/refresh")
        if rejected is not None:
            return rejected
        fault, _ = await self._fault("rest")
        if fault is not None:
            return fault
        if params.get("refresh_token") != self.world.refresh_token:
            return self._error("rest", "IllegalRefreshToken", "The specified refresh token is invalid or expired")
        access, refresh = self.world.rotate_tokens()
        return JSONResponse(
            {
                "code": "0",
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": 86400 * 30,
                "refresh_expires_in": 86400 * 60,
                "request_id": uuid.uuid4().hex[:21],
            }
        )

    # -- control endpoints ---------------------------------------------------------------------------

    async def _control_create(self, request: Request) -> Response:
        body = await self._json(request)
        oid = self.create_order(str(body.get("amount", "10.00")), str(body.get("currency", "USD")))
        return JSONResponse({"order_id": oid})

    async def _control_show(self, request: Request) -> Response:
        result = self.world.order_result(request.path_params["order_id"])
        return JSONResponse(result or {"error": "no such order"}, status_code=200 if result else 404)

    async def _control_action(self, request: Request) -> Response:
        oid, action, body = request.path_params["order_id"], request.path_params["action"], await self._json(request)
        actions: dict[str, Any] = {
            "pay": lambda: self.pay(oid),
            "pass-risk-check": lambda: self.pass_risk_check(oid),
            "ship": lambda: self.ship(oid, str(body.get("tracking_number", "")), partial=bool(body.get("partial"))),
            "request-cancellation": lambda: self.request_cancellation(oid),
            "accept-cancellation": lambda: self.seller_accepts_cancellation(oid),
            "refuse-cancellation": lambda: self.seller_refuses_cancellation(oid),
            "deliver": lambda: self.deliver(oid),
            "confirm-receipt": lambda: self.confirm_receipt(oid),
            "extend-protection": lambda: self.extend_protection(oid, int(body.get("days", 0))),
            "open-dispute": lambda: self.open_dispute(oid, str(body.get("reason") or "not_received")),
            "resolve-dispute": lambda: self.resolve_dispute(
                oid,
                refund=bool(body.get("refund")),
                outcome=str(body["outcome"]) if body.get("outcome") else None,
                amount=str(body["amount"]) if body.get("amount") not in (None, "") else None,
            ),
            "return-received": lambda: self.return_received(oid),
        }
        if action not in actions:
            return JSONResponse({"error": f"unknown action {action!r}", "actions": sorted(actions)}, status_code=404)
        try:
            actions[action]()
        except SandboxError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse(self.world.order_result(oid))

    async def _control_clock(self, request: Request) -> Response:
        if request.method == "POST":
            body = await self._json(request)
            self.clock.advance(days=float(body.get("days", 0)), hours=float(body.get("hours", 0)))
            self.world.catch_up()
        return JSONResponse({"now": self.clock.now().isoformat()})

    async def _control_faults(self, request: Request) -> Response:
        body = await self._json(request)
        if "latency_seconds" in body:
            self.set_latency(float(body["latency_seconds"]))
        if body.get("expire_token"):
            self.expire_token()
        try:
            if body.get("kind"):
                self.fail_next(str(body["kind"]), int(body.get("count", 1)))
        except SandboxError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"queued": list(self.faults.queue), "latency_seconds": self.faults.latency_seconds})

    @staticmethod
    async def _json(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _seed_demo_order(self) -> None:
        """Demo orders (``--seed``/``demo_orders``): a deterministic mix of lifecycle stages."""
        stage = len(self.world.orders) % 4
        oid = self.create_order(f"{5 + len(self.world.orders) * 3}.99")
        if stage >= 1:
            self.pay(oid)
            self.pass_risk_check(oid)
        if stage >= 2:
            self.ship(oid, f"LP{oid[-10:]}CN")
        if stage >= 3:
            self.deliver(oid)


class _SlowResponse(Response):
    """Sends its body after 30 s: long past any sane client timeout."""

    def __init__(self) -> None:
        super().__init__(b"{}", media_type="application/json")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(30)
        await super().__call__(scope, receive, send)
