"""The REST endpoints, their order of checks and Shopify's REST answers.

Every answer: JSON (``{"errors": ...}`` when it is an error), ``X-Shopify-API-Version`` (the version
served, see ``versions.py``) and ``X-Shopify-Shop-Api-Call-Limit: used/size``. Order of checks: version
(404 when the path names none) -> access token (401) -> the REST leaky bucket, one request = one unit
(429 with ``Retry-After`` when empty, nothing runs) -> the request fault switches -> the operation, under
the shop lock, on the same state GraphQL reads.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandboxes.shopify import ids, versions
from sandboxes.shopify.cost import LeakyBucket
from sandboxes.shopify.fault_gate import before_run
from sandboxes.shopify.model import Order
from sandboxes.shopify.rest import resources
from sandboxes.shopify.rest.listing import (
    PageToken,
    RestPage,
    RestParamError,
    count_orders,
    decode_token,
    encode_token,
    first_page,
    order_filter,
    page_at,
    parse_fields,
    parse_limit,
    parse_time_param,
    query_from_params,
)

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox

# Requests per bucket and leak rate per second, by plan (shopify.dev "REST Admin API rate limits").
REST_PLAN_LIMITS: dict[str, tuple[float, float]] = {
    "standard": (40, 2),
    "advanced": (80, 4),
    "plus": (400, 20),
    "enterprise": (800, 40),
}
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class RestNotFound(LookupError):
    """The resource does not exist (404 ``{"errors": "Not Found"}``)."""


@dataclass
class Answer:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """What an operation may read of the request (plain values: it runs in a worker thread)."""

    params: Mapping[str, str]
    path_params: Mapping[str, Any]
    url: str  # scheme://host[:port]/path as the client addressed it, for Link headers


Operation = Callable[["ShopifySandbox", Call], Answer]


def rest_bucket(sandbox: ShopifySandbox) -> LeakyBucket:
    size, rate = REST_PLAN_LIMITS[sandbox.config.plan]
    config = sandbox.config
    size = config.rest_bucket_size if config.rest_bucket_size is not None else size
    rate = config.rest_restore_rate if config.rest_restore_rate is not None else rate
    return LeakyBucket(size, rate)


def rest_routes(sandbox: ShopifySandbox) -> list[Route]:
    bucket = rest_bucket(sandbox)
    prefix = "/admin/api/{version}"
    table: list[tuple[str, Operation]] = [
        (f"{prefix}/shop.json", _shop),
        (f"{prefix}/orders.json", _orders),
        (f"{prefix}/orders/count.json", _orders_count),
        (f"{prefix}/orders/{{order_id:int}}.json", _order),
        (f"{prefix}/orders/{{order_id:int}}/transactions.json", _transactions),
        (f"{prefix}/orders/{{order_id:int}}/refunds.json", _refunds),
        (f"{prefix}/orders/{{order_id:int}}/fulfillment_orders.json", _fulfillment_orders),
        (f"{prefix}/events.json", _events),
        ("/admin/oauth/access_scopes.json", _access_scopes),
    ]
    return [Route(path, _endpoint(sandbox, bucket, operation), methods=["GET"]) for path, operation in table]


def _endpoint(
    sandbox: ShopifySandbox, bucket: LeakyBucket, operation: Operation
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        return await _answer(sandbox, bucket, operation, request)

    return handle


async def _answer(sandbox: ShopifySandbox, bucket: LeakyBucket, operation: Operation, request: Request) -> Response:
    native = sandbox.config.api_version
    served = versions.served_version(request.path_params.get("version", native), native)
    headers = {"X-Request-Id": str(uuid.uuid4())}
    if served is None:
        return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)
    headers[versions.HEADER] = served
    if request.headers.get("x-shopify-access-token") != sandbox.config.access_token:
        return JSONResponse({"errors": INVALID_TOKEN}, status_code=401, headers=headers)
    if not bucket.take(1):
        headers[CALL_LIMIT_HEADER] = f"{int(bucket.size)}/{int(bucket.size)}"
        headers["Retry-After"] = f"{1 / bucket.restore_rate:.1f}"
        message = (
            f"Exceeded {bucket.restore_rate:g} calls per second for api client. "
            "Reduce request rates to resume uninterrupted service."
        )
        return JSONResponse({"errors": message}, status_code=429, headers=headers)
    headers[CALL_LIMIT_HEADER] = f"{math.ceil(bucket.size - bucket.available() - 1e-9)}/{int(bucket.size)}"
    early = await before_run(sandbox, headers, set())
    if early is not None:
        return early
    call = Call(dict(request.query_params), dict(request.path_params), _address(request))
    try:
        answer = await run_in_threadpool(_locked, sandbox, operation, call)
    except RestParamError as exc:
        return JSONResponse({"errors": {exc.param: [str(exc)]}}, status_code=400, headers=headers)
    except RestNotFound:
        return JSONResponse({"errors": "Not Found"}, status_code=404, headers=headers)
    return JSONResponse(answer.body, status_code=answer.status, headers={**headers, **answer.headers})


def _address(request: Request) -> str:
    url = request.url
    return f"{url.scheme}://{url.netloc}{url.path}"


def _locked(sandbox: ShopifySandbox, operation: Operation, call: Call) -> Answer:
    with sandbox.state.lock:
        return operation(sandbox, call)


def _order_at(sandbox: ShopifySandbox, call: Call) -> Order:
    order = sandbox.state.get(ids.order_index(int(call.path_params["order_id"])))
    if order is None or order.id != int(call.path_params["order_id"]):
        raise RestNotFound
    return order


def _shop(sandbox: ShopifySandbox, call: Call) -> Answer:
    shop = resources.shop_resource(sandbox.config)
    return Answer({"shop": resources.select_fields(shop, parse_fields(call.params))})


def _orders(sandbox: ShopifySandbox, call: Call) -> Answer:
    limit, fields = parse_limit(call.params), parse_fields(call.params)
    token_text = call.params.get("page_info")
    if token_text is not None:
        _only_paging(call.params)
        token = PageToken.decode(token_text)
        query, page = token.query, page_at(sandbox.state, token, limit)
    else:
        query = query_from_params(call.params)
        page = first_page(sandbox.state, query, limit)
    body = [resources.select_fields(resources.order_resource(sandbox.state, o), fields) for o in page.orders]
    link = _link_header(call, page, query, limit, fields)
    return Answer({"orders": body}, headers={"Link": link} if link else {})


def _link_header(call: Call, page: RestPage, query: Any, limit: int, fields: list[str] | None) -> str:
    """Shopify's ``Link``: ``<…?limit=N&page_info=…>; rel="previous", <…>; rel="next"`` (absent when neither)."""
    extra = f"&fields={','.join(fields)}" if fields else ""
    links = []
    if page.has_previous and page.first_key is not None:
        token = PageToken(query, page.first_key, "previous").encode()
        links.append(f'<{call.url}?limit={limit}{extra}&page_info={token}>; rel="previous"')
    if page.has_next and page.last_key is not None:
        token = PageToken(query, page.last_key, "next").encode()
        links.append(f'<{call.url}?limit={limit}{extra}&page_info={token}>; rel="next"')
    return ", ".join(links)


def _orders_count(sandbox: ShopifySandbox, call: Call) -> Answer:
    query = query_from_params(call.params)
    return Answer({"count": count_orders(sandbox.state, order_filter(query.filters))})


def _order(sandbox: ShopifySandbox, call: Call) -> Answer:
    order = resources.order_resource(sandbox.state, _order_at(sandbox, call))
    return Answer({"order": resources.select_fields(order, parse_fields(call.params))})


def _transactions(sandbox: ShopifySandbox, call: Call) -> Answer:
    return Answer({"transactions": resources.transactions(_order_at(sandbox, call))})


def _refunds(sandbox: ShopifySandbox, call: Call) -> Answer:
    from sandboxes.shopify.payloads import refund_json

    order = _order_at(sandbox, call)
    return Answer({"refunds": [refund_json(order, refund) for refund in order.refunds]})


def _fulfillment_orders(sandbox: ShopifySandbox, call: Call) -> Answer:
    order = _order_at(sandbox, call)
    chosen = [resources.fulfillment_order_resource(order, fo) for fo in order.fulfillment_orders]
    return Answer({"fulfillment_orders": chosen})


EVENT_FILTERS = ("filter", "verb", "since_id", "created_at_min", "created_at_max")


def _events(sandbox: ShopifySandbox, call: Call) -> Answer:
    """``events.json``: the sandbox records order deletions (``filter=Order&verb=destroy``); newest first, or
    oldest first after ``since_id``; cursor pages in ``Link`` like ``orders.json``."""
    limit = parse_limit(call.params)
    token_text = call.params.get("page_info")
    if token_text is not None:
        _only_paging(call.params)
        content = decode_token(token_text)
        filters, after = content.get("f"), content.get("k")
        if not isinstance(filters, dict) or not isinstance(after, int):
            raise RestParamError("page_info", "Invalid value.")
    else:
        filters, after = {name: call.params[name] for name in EVENT_FILTERS if name in call.params}, None
    found = _matching_events(sandbox, filters)
    if after is not None:
        position = next((i for i, event in enumerate(found) if event["id"] == after), len(found))
        found = found[position + 1 :]
    page = found[:limit]
    answer = Answer({"events": page})
    if len(found) > limit:
        token = encode_token({"f": filters, "k": page[-1]["id"]})
        answer.headers["Link"] = f'<{call.url}?limit={limit}&page_info={token}>; rel="next"'
    return answer


def _matching_events(sandbox: ShopifySandbox, filters: dict[str, str]) -> list[dict[str, Any]]:
    subjects = {name.strip().lower() for name in str(filters.get("filter", "order")).split(",") if name.strip()}
    found = resources.order_events(sandbox.state, filters.get("verb")) if "order" in subjects else []
    low, high = (parse_time_param(name, filters[name]) if name in filters else None for name in EVENT_FILTERS[3:])
    found = [
        event
        for event in found
        if (low is None or _event_time(event) >= low) and (high is None or _event_time(event) <= high)
    ]
    since = filters.get("since_id")
    if since is None:
        return list(reversed(found))
    if not str(since).isdigit():
        raise RestParamError("since_id", "must be an event id")
    return [event for event in found if event["id"] > int(since)]


def _event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["created_at"])


def _only_paging(params: Mapping[str, str]) -> None:
    extra = sorted(set(params) - {"page_info", "limit", "fields"})
    if extra:
        raise RestParamError("page_info", f"a page_info request accepts only limit and fields (got {extra[0]})")


def _access_scopes(sandbox: ShopifySandbox, call: Call) -> Answer:
    return Answer({"access_scopes": resources.access_scopes()})
