"""``/_sandbox/*``: the control API over HTTP (same operations as ``sandbox.control``). JSON in, JSON out;
a bad request gets ``400 {"error": "<one line>"}``, an unknown order ``404``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox

Endpoint = Callable[[Request], Awaitable[Response]]


def _endpoint(operation: Callable[[Request, dict[str, Any]], Any]) -> Endpoint:
    async def handle(request: Request) -> Response:
        from sandboxes.shopify.errors import ControlError

        try:
            raw = await request.body()
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            result = await run_in_threadpool(operation, request, body)
        except ControlError as exc:
            status = 404 if str(exc).startswith(("no such order", "no such dispute", "no such return")) else 400
            return JSONResponse({"error": str(exc)}, status_code=status)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(result if result is not None else {"ok": True})

    return handle


def _return_request(control: Any, order: str, body: dict[str, Any]) -> dict[str, str]:
    """``{"line_items": [...]}`` (``"lines"`` also accepted) -> ``{"id": <Return gid>, "return_id": <same>}``."""
    lines = body.get("line_items", body.get("lines"))
    if lines is not None and not isinstance(lines, list):
        raise ValueError("line_items must be a list")
    made = control.return_request(order, lines)
    return {"id": made, "return_id": made}


def control_routes(sandbox: ShopifySandbox) -> list[Route]:
    control = sandbox.control

    def order_ref(request: Request) -> str:
        return str(request.path_params["order"])

    table: list[tuple[str, str, Callable[[Request, dict[str, Any]], Any]]] = [
        ("/_sandbox/health", "GET", lambda r, b: {"ok": True, "orders": sandbox.state.total_count}),
        ("/_sandbox/reset", "POST", lambda r, b: control.reset()),
        ("/_sandbox/orders", "POST", lambda r, b: {"id": control.create_order(**b)}),
        ("/_sandbox/orders/{order}", "GET", lambda r, b: control.snapshot(order_ref(r))),
        ("/_sandbox/orders/{order}", "DELETE", lambda r, b: control.delete_order(order_ref(r))),
        ("/_sandbox/orders/{order}/touch", "POST", lambda r, b: {"updated_at": control.touch_order(order_ref(r), **b)}),
        (
            "/_sandbox/orders/{order}/fulfillment/{action}",
            "POST",
            lambda r, b: control.fulfillment(order_ref(r), r.path_params["action"], **b),
        ),
        (
            "/_sandbox/orders/{order}/return-request",
            "POST",
            lambda r, b: _return_request(control, order_ref(r), b),
        ),
        ("/_sandbox/returns/{ret}", "GET", lambda r, b: control.return_snapshot(str(r.path_params["ret"]))),
        (
            "/_sandbox/orders/{order}/mutations",
            "GET",
            lambda r, b: {
                "mutations": control.mutations(order_ref(r)),
                "counts": control.mutation_counts(order_ref(r)),
            },
        ),
        ("/_sandbox/orders/{order}/dispute", "POST", lambda r, b: {"id": control.open_dispute(order_ref(r), **b)}),
        (
            "/_sandbox/disputes/{dispute:path}/decide",
            "POST",
            lambda r, b: control.decide_dispute(r.path_params["dispute"], b.get("status", "")),
        ),
        (
            "/_sandbox/disputes/{dispute:path}/escalate",
            "POST",
            lambda r, b: control.escalate_dispute(r.path_params["dispute"], **b),
        ),
        ("/_sandbox/disputes/{dispute:path}", "GET", lambda r, b: control.dispute(r.path_params["dispute"])),
        ("/_sandbox/mutations", "GET", lambda r, b: {"mutations": control.mutations()}),
        ("/_sandbox/faults", "GET", lambda r, b: control.faults()),
        ("/_sandbox/faults", "POST", lambda r, b: control.set_faults(**b)),
        ("/_sandbox/faults", "DELETE", lambda r, b: control.clear_faults()),
        ("/_sandbox/faults/next", "POST", lambda r, b: control.fail_next(**b)),
        ("/_sandbox/throttle", "GET", lambda r, b: control.bucket()),
        ("/_sandbox/throttle/drain", "POST", lambda r, b: control.drain_bucket()),
        ("/_sandbox/throttle/refill", "POST", lambda r, b: control.refill_bucket()),
        ("/_sandbox/webhooks", "GET", lambda r, b: {"deliveries": control.deliveries()}),
        ("/_sandbox/webhooks/subscribe", "POST", lambda r, b: {"id": control.subscribe(b["topic"], b["url"])}),
        ("/_sandbox/webhooks/privacy", "POST", lambda r, b: {"webhook_id": control.privacy_webhook(**b)}),
    ]
    return [Route(path, _endpoint(operation), methods=[method]) for path, method, operation in table]
