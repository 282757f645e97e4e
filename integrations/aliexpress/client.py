"""A signed client for the AliExpress Open Platform dropshipping APIs.

- Business APIs: ``POST {base}/sync?method=<api>`` with every parameter signed (``signing``).
- System APIs: ``POST {base}/rest/auth/token/refresh``, signed with the API path as prefix.
- Timeouts on every request; retries (tenacity, exponential backoff with jitter) on transient failures
  only: connection errors, timeouts, HTTP 5xx, ``ISP`` errors and rate limits. Every call here is a read
  (or a token refresh, which is safe to repeat), so a retry can never move money twice.
- The gateway's errors become typed exceptions (``errors``). An expired token is refreshed once, when a
  refresh token is configured, and the call is repeated; ``on_tokens`` hears about the new pair.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Self
from zoneinfo import ZoneInfo

import httpx
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from tenacity.wait import wait_base

from integrations.aliexpress import signing
from integrations.aliexpress.errors import (
    AliExpressError,
    BadSignature,
    GatewayError,
    MalformedResponse,
    RateLimited,
    RequestRejected,
    TokenExpired,
    TransientError,
    UnknownOrder,
)
from integrations.aliexpress.models import RemoteOrder, TokenPair, Tracking
from integrations.aliexpress.parsing import parse_order, parse_tokens, parse_tracking

log = structlog.get_logger(__name__)

ORDER_GET = "aliexpress.trade.ds.order.get"
TRACKING_GET = "aliexpress.ds.order.tracking.get"
TOKEN_REFRESH = "/auth/token/refresh"

_TOKEN_CODES = {"ILLEGALACCESSTOKEN", "SESSIONEXPIRED", "INVALIDSESSION", "ILLEGALREFRESHTOKEN"}
_RATE_CODES = {"APICALLLIMIT", "APPCALLLIMIT", "ACCESSCONTROLLIMIT"}
_UNKNOWN_ORDER_MARKERS = ("ORDER_NOT_EXIST", "ORDER_NOT_FOUND", "ORDERNOTEXIST", "ORDERNOTFOUND")


def classify_error(body: Mapping[str, Any], http_status: int = 200) -> AliExpressError:
    """Turn the gateway's error JSON (``error_response`` or the top-level IOP shape) into a typed error."""
    code = str(body.get("code") or "")
    sub_code = str(body.get("sub_code") or "")
    message = str(body.get("msg") or body.get("message") or body.get("sub_msg") or code or "gateway error")
    request_id = body.get("request_id")
    rid = str(request_id) if request_id else None
    text = f"{code}: {message}" if code else message
    upper = code.upper().removeprefix("ISV.").removeprefix("ISP.")
    kind: type[AliExpressError]
    if upper == "INCOMPLETESIGNATURE":
        kind = BadSignature
    elif upper in _TOKEN_CODES:
        kind = TokenExpired
    elif upper in _RATE_CODES:
        kind = RateLimited
    elif any(marker in f"{code} {sub_code}".upper() for marker in _UNKNOWN_ORDER_MARKERS):
        kind = UnknownOrder
    elif str(body.get("type") or "").upper() == "ISP" or code.lower().startswith("isp.") or http_status >= 500:
        kind = GatewayError
    else:
        kind = RequestRejected
    return kind(text, code=code or None, request_id=rid)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("aliexpress.retry", attempt=state.attempt_number, error=str(error))


class AliExpressClient:
    """One app's connection to the gateway. Thread-unsafe: one per worker task or CLI command."""

    def __init__(
        self,
        *,
        base_url: str,
        app_key: str,
        app_secret: str,
        access_token: str | None,
        refresh_token: str | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        gateway_timezone: str = "America/Los_Angeles",
        retry_wait: wait_base | None = None,
        transport: httpx.BaseTransport | None = None,
        on_tokens: Callable[[TokenPair], None] | None = None,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self._secret = app_secret
        self.access_token = access_token
        self.refresh_token = refresh_token
        self._max_attempts = max(1, max_attempts)
        self._wait = retry_wait or wait_random_exponential(multiplier=0.5, max=10)
        self._tz = ZoneInfo(gateway_timezone)
        self._on_tokens = on_tokens
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- public API ---------------------------------------------------------------------------------

    def get_order(self, order_id: str) -> RemoteOrder:
        """``aliexpress.trade.ds.order.get``. Raises ``UnknownOrder``, ``MalformedResponse``, …"""
        query = json.dumps({"order_id": int(order_id) if order_id.isdigit() else order_id})
        body = self.call(ORDER_GET, {"single_order_query": query})
        return parse_order(order_id, body.get("result"), self._tz, self._now())

    def get_tracking(self, order_id: str, language: str = "en_US") -> list[Tracking]:
        """``aliexpress.ds.order.tracking.get``: the parcels of an order and their events."""
        body = self.call(TRACKING_GET, {"ae_order_id": order_id, "language": language})
        return parse_tracking(body.get("result"))

    def refresh_access_token(self) -> TokenPair:
        """``/auth/token/refresh``: a new token pair (also kept on the client and passed to ``on_tokens``)."""
        if not self.refresh_token:
            raise TokenExpired("the access token expired and no ALIEXPRESS_REFRESH_TOKEN is configured")
        params = self._common(TOKEN_REFRESH, with_session=False)
        params["refresh_token"] = self.refresh_token
        body = self._with_retries(lambda: self._post(f"{self.base_url}/rest{TOKEN_REFRESH}", params, TOKEN_REFRESH))
        if str(body.get("code", "0")) != "0":
            raise classify_error(body)
        tokens = parse_tokens(body)
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token or self.refresh_token
        log.info("aliexpress.token_refreshed", expires_in=tokens.expires_in)
        if self._on_tokens is not None:
            self._on_tokens(tokens)
        return tokens

    def call(self, method: str, business: Mapping[str, str]) -> dict[str, Any]:
        """Call a business API; returns the inside of ``<method>_response``. Refreshes an expired token once."""
        try:
            return self._call_once(method, business)
        except TokenExpired:
            if not self.refresh_token:
                raise
            self.refresh_access_token()
            return self._call_once(method, business)

    # -- internals ----------------------------------------------------------------------------------

    def _call_once(self, method: str, business: Mapping[str, str]) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            params = {**self._common(method, with_session=True), **business}
            body = self._post(f"{self.base_url}/sync", params, None)
            return self._unwrap(method, body)

        return self._with_retries(attempt)

    def _common(self, method: str, *, with_session: bool) -> dict[str, str]:
        params = {
            "app_key": self.app_key,
            "timestamp": str(int(time.time() * 1000)),
            "sign_method": signing.SIGN_METHOD,
            "method": method,
        }
        if with_session and self.access_token:
            params["session"] = self.access_token
        return params

    def _post(self, url: str, params: dict[str, str], api_path: str | None) -> dict[str, Any]:
        params = {**params, "sign": signing.sign(params, self._secret, api_path)}
        method = params["method"]
        try:
            response = self._http.post(url, params={"method": method}, data=params)
        except httpx.TimeoutException as exc:
            raise GatewayError(f"{method}: timed out ({exc.__class__.__name__})") from exc
        except httpx.TransportError as exc:
            raise GatewayError(f"{method}: {exc.__class__.__name__}: {exc}") from exc
        return self._decode(method, response)

    def _decode(self, method: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            if response.status_code >= 500:
                raise GatewayError(f"{method}: HTTP {response.status_code}") from exc
            raise MalformedResponse(f"{method}: the response is not JSON (HTTP {response.status_code})") from exc
        if not isinstance(body, dict):
            raise MalformedResponse(f"{method}: the response is {type(body).__name__}, not an object")
        if response.status_code >= 500:
            raise classify_error(body.get("error_response") or body, response.status_code)
        return body

    def _unwrap(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        error = body.get("error_response")
        if isinstance(error, dict):
            raise classify_error(error)
        key = method.replace(".", "_") + "_response"
        inner = body.get(key)
        if not isinstance(inner, dict):
            raise MalformedResponse(f"{method}: no {key!r} object in the response")
        return inner

    def _with_retries(self, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            reraise=True,
            before_sleep=_log_retry,
        )
        return retrying(fn)
