"""Reading the gateway's JSON into typed values. Anything unreadable raises ``MalformedResponse``.

The gateway nests lists as ``{"<wrapper>": [...]}`` and sends a single element as an object instead
of a one-element list; ``_items`` accepts both.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from integrations.aliexpress.errors import MalformedResponse
from integrations.aliexpress.models import RemoteOrder, TokenPair, Tracking, TrackingEvent

GATEWAY_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_gateway_time(value: Any, tz: dt.tzinfo) -> dt.datetime | None:
    """``"2026-03-01 10:00:00"`` in the gateway's zone (or epoch milliseconds) → aware UTC; None if absent."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)
    try:
        local = dt.datetime.strptime(str(value), GATEWAY_TIME_FORMAT).replace(tzinfo=tz)
    except ValueError as exc:
        raise MalformedResponse(f"unreadable time {value!r}") from exc
    return local.astimezone(dt.UTC)


def format_gateway_time(value: dt.datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime(GATEWAY_TIME_FORMAT)


def _items(node: Any, *wrappers: str) -> list[Any]:
    if node in (None, "", {}):
        return []
    if isinstance(node, dict):
        for wrapper in wrappers:
            if wrapper in node:
                return _items(node[wrapper])
        return [node]
    if isinstance(node, list):
        return node
    raise MalformedResponse(f"expected a list, got {type(node).__name__}")


def _money(node: Any) -> tuple[Decimal | None, str | None]:
    if node in (None, ""):
        return None, None
    if isinstance(node, list):
        node = node[0] if node else None
        return _money(node)
    if isinstance(node, dict):
        amount, currency = node.get("amount"), node.get("currency_code") or node.get("currency")
    else:
        amount, currency = node, None
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError) as exc:
        raise MalformedResponse(f"unreadable amount {amount!r}") from exc
    if not value.is_finite() or value < 0:
        raise MalformedResponse(f"impossible amount {amount!r}")
    return value, (str(currency).upper() if currency else None)


def parse_order(order_id: str, result: Any, tz: ZoneInfo, observed_at: dt.datetime) -> RemoteOrder:
    if not isinstance(result, dict):
        raise MalformedResponse(f"order {order_id}: 'result' is {type(result).__name__}, not an object")
    status = result.get("order_status")
    if not isinstance(status, str) or not status.strip():
        raise MalformedResponse(f"order {order_id}: no order_status in the response")
    amount, currency = _money(result.get("order_amount"))
    tracking = [
        str(info.get("logistics_no"))
        for info in _items(result.get("logistics_info_list"), "ae_order_logistics_info", "aeop_order_logistics_info")
        if isinstance(info, dict) and info.get("logistics_no")
    ]
    left = result.get("timeout_left_time")
    try:
        protection_left = dt.timedelta(milliseconds=int(left)) if left not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise MalformedResponse(f"order {order_id}: unreadable timeout_left_time {left!r}") from exc
    return RemoteOrder(
        order_id=order_id,
        order_status=status.strip(),
        end_reason=(str(result["end_reason"]) if result.get("end_reason") else None),
        logistics_status=(str(result["logistics_status"]) if result.get("logistics_status") else None),
        created_at=parse_gateway_time(result.get("gmt_create"), tz),
        paid_at=parse_gateway_time(result.get("gmt_pay_time") or result.get("order_paidtime_string"), tz),
        amount=amount,
        currency=currency,
        tracking_numbers=tuple(dict.fromkeys(tracking)),
        protection_left=protection_left,
        observed_at=observed_at,
        raw=result,
    )


def parse_tracking(result: Any) -> list[Tracking]:
    if not isinstance(result, dict):
        raise MalformedResponse("tracking: 'result' is not an object")
    data = result.get("data") or {}
    if not isinstance(data, dict):
        raise MalformedResponse("tracking: 'data' is not an object")
    parcels = []
    for line in _items(data.get("tracking_detail_line_list"), "tracking_detail"):
        if not isinstance(line, dict) or not line.get("mail_no"):
            raise MalformedResponse("tracking: a parcel without mail_no")
        events = [
            TrackingEvent(
                at=parse_gateway_time(node.get("time_stamp"), dt.UTC),
                description=str(node.get("tracking_detail_desc") or ""),
                name=node.get("tracking_name"),
            )
            for node in _items(line.get("detail_node_list"), "detail_node")
            if isinstance(node, dict)
        ]
        events.sort(key=lambda e: e.at or dt.datetime.min.replace(tzinfo=dt.UTC))
        parcels.append(Tracking(str(line["mail_no"]), line.get("carrier_name"), tuple(events)))
    return parcels


def parse_tokens(body: dict[str, Any]) -> TokenPair:
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise MalformedResponse("token refresh: no access_token in the response")
    expires = body.get("expires_in")
    return TokenPair(token, body.get("refresh_token") or None, int(expires) if expires is not None else None)
