"""The one client all Shopify Admin GraphQL traffic goes through.

``shopify.Session`` / ``shopify.ApiVersion`` (the ShopifyAPI package) normalise the shop and the API
version and give the endpoint; everything the package lacks (DOMAIN.md §2) is added here:

- timeouts and connection reuse: one ``httpx.Client`` per ShopifyClient (keep-alive pool, thread-safe).
  ``shopify.GraphQL().execute`` has neither, and reads a process-global session: see BENCHMARKS.md
  ("Shopify client") for the measured difference;
- cost-aware pacing: every request first takes its expected cost from the shop's ``CostBucket`` and
  waits for the points instead of being refused with THROTTLED;
- retries (tenacity) on THROTTLED, HTTP 429/5xx, INTERNAL_SERVER_ERROR and transport failures ONLY;
  never on userErrors, other 4xx or other GraphQL errors;
- one error type per channel (``integrations.shopify.errors``).

Retry policy is per call. A query is always safe to resend. A mutation is resent only when it cannot
apply twice: it carries ``@idempotent(key: …)`` or the caller passes ``idempotent=True``; a request
that provably never reached Shopify (connection refused, THROTTLED, 429) is resent in any case. When a
mutation's verdict is lost (timeout, dropped connection, 5xx) the call raises ``ShopifyOutcomeUnknown``:
the caller must read Shopify before trying again.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx
import shopify
import structlog
import tenacity

from integrations.errors import IntegrationUsageError
from integrations.shopify import documents
from integrations.shopify.documents import Document, DocumentError
from integrations.shopify.errors import (
    ShopifyError,
    ShopifyGraphQLError,
    ShopifyHTTPError,
    ShopifyOutcomeUnknown,
    ShopifyThrottled,
    ShopifyTransportError,
)
from integrations.shopify.observer import NO_OBSERVER, ClientObserver
from integrations.shopify.throttle import Bucket, QueryCost, ThrottleStatus, bucket_for, parse_cost

if TYPE_CHECKING:
    from models.shop import Shop

log = structlog.get_logger(__name__)

DEFAULT_API_VERSION = "2026-10"
USER_AGENT = "dropsync (+ShopifyAPI session handling; httpx transport)"
RETRY_AFTER_CAP_SECONDS = 30.0
SERVER_ERROR_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"})
# Failures where the request provably never reached Shopify: resending cannot apply anything twice.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class _NotSent(ShopifyTransportError):
    """The request never left this process (safe to resend, even a mutation)."""


class ShopifyClient:
    """A connection to one shop's Admin GraphQL API. Thread-safe; close it (or use ``with``).

    ``api_url`` replaces ``https://{shop}`` (the sandbox, a proxy); the version path is kept.
    ``transport`` and ``sleep`` are injectable for tests; ``bucket`` defaults to the shop's shared one;
    ``observer`` is told of every request, cost and wait (the worker counts them in Prometheus).
    """

    def __init__(
        self,
        shop_domain: str,
        access_token: str,
        api_version: str = DEFAULT_API_VERSION,
        api_url: str | None = None,
        timeout: float = 10.0,
        *,
        max_attempts: int = 6,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        max_connections: int = 10,
        transport: httpx.BaseTransport | None = None,
        bucket: Bucket | None = None,
        sleep: Callable[[float], None] = time.sleep,
        observer: ClientObserver = NO_OBSERVER,
    ) -> None:
        session = _session(shop_domain, api_version, access_token)
        self.shop_domain: str = session.url
        self.api_version: str = session.api_version.name
        base = api_url.rstrip("/") if api_url else f"https://{session.url}"
        self.endpoint = session.api_version.api_path(base) + "/graphql.json"
        self.max_attempts = max_attempts
        self._backoff = tenacity.wait_exponential(multiplier=backoff_initial, max=backoff_max) + tenacity.wait_random(
            0, backoff_initial
        )
        self._sleep = sleep
        self._observer = observer
        # One bucket per shop *and* server: a sandbox on another port is another bucket.
        self._bucket = bucket or bucket_for(f"{self.shop_domain}@{base}")
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"X-Shopify-Access-Token": session.token, "Accept": "application/json",
                     "User-Agent": USER_AGENT},
            transport=transport,
        )  # fmt: skip
        self._state_lock = threading.Lock()
        self.throttle_status: ThrottleStatus | None = None
        self.last_cost: QueryCost | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def bucket(self) -> Bucket:
        return self._bucket

    def execute(
        self, document: str | Document, variables: Mapping[str, Any] | None = None, *, idempotent: bool = False
    ) -> dict[str, Any]:
        """Send one operation; return its ``data``. Raises the channel's ``ShopifyError`` subclass.

        ``document``: a ``Document`` (``documents.load("OrderById")``), a document name, or GraphQL text.
        ``idempotent=True`` lets a mutation be resent after a lost verdict (the caller guarantees that a
        second application is harmless); ``@idempotent`` mutations are resent without being told.
        """
        doc = _as_document(document)
        resend_safe = not doc.is_mutation or doc.idempotent or idempotent
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(_retryable),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, doc, dict(variables or {}), resend_safe)
        except (ShopifyTransportError, ShopifyHTTPError, ShopifyGraphQLError) as exc:
            if doc.is_mutation and _verdict_lost(exc):
                raise ShopifyOutcomeUnknown(doc.name, exc) from exc
            raise

    def paginate(
        self, document: str | Document, variables: Mapping[str, Any] | None = None, *, connection: str
    ) -> Iterator[dict[str, Any]]:
        """Yield ``data[connection]`` of each page (``nodes``, ``pageInfo``), following ``endCursor``.

        The document must take ``$after`` and select ``pageInfo {hasNextPage endCursor}``. Each page is one
        ``execute`` (paced, retried); a caller that stops iterating sends no further request.
        """
        doc = _as_document(document)
        current = dict(variables or {})
        while True:
            page = self.execute(doc, current)[connection]
            yield page
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            if not info.get("endCursor"):
                raise ShopifyGraphQLError(
                    [{"message": f"{connection}: hasNextPage without endCursor"}], operation=doc.name
                )
            current["after"] = info["endCursor"]

    def wait_for_job(self, job_id: str, *, timeout: float = 30.0, interval: float = 0.5) -> bool:
        """Poll ``job(id:)`` (e.g. orderCancel's job) until done; False when still running after ``timeout``.

        Done is not success: after an orderCancel job, confirm ``cancelledAt`` with OrderForAction.
        """
        polls = max(1, math.ceil(timeout / interval))
        for poll in range(polls):
            job = self.execute("JobById", {"id": job_id})["job"]
            if job is None:
                raise ShopifyGraphQLError([{"message": f"no such job: {job_id}"}], operation="JobById")
            if job["done"]:
                return True
            if poll < polls - 1:
                self._sleep(interval)
        return False

    # -- one attempt ---------------------------------------------------------------------------------------

    def _attempt(self, doc: Document, variables: dict[str, Any], resend_safe: bool) -> dict[str, Any]:
        taken = self._pace(doc, variables)
        try:
            response = self._http.post(self.endpoint, json={"query": doc.source, "variables": variables})
        except httpx.TransportError as exc:
            self._bucket.release(taken)
            self._observer.request("timeout" if isinstance(exc, httpx.TimeoutException) else "transport")
            raise self._transport_failure(doc, exc, resend_safe) from exc
        try:
            return self._answer(doc, variables, resend_safe, taken, response)
        except ShopifyError as exc:
            exc.request_id = response.headers.get("X-Request-Id")  # what Shopify support asks for
            raise

    def _answer(
        self, doc: Document, variables: dict[str, Any], resend_safe: bool, taken: float, response: httpx.Response
    ) -> dict[str, Any]:
        if response.status_code >= 400:
            self._bucket.release(taken)
            raise self._http_failure(doc, response, resend_safe)
        if "X-Shopify-API-Deprecated-Reason" in response.headers:
            # Works today, breaks when the version retires: say so while there is time to fix the document.
            log.warning(
                "shopify.deprecated", operation=doc.name, reason=response.headers["X-Shopify-API-Deprecated-Reason"]
            )
        body = self._json(doc, response, resend_safe, taken)
        cost = self._observe_cost(doc, variables, body, taken)
        return self._data(doc, body, resend_safe, cost)

    def _pace(self, doc: Document, variables: Mapping[str, Any]) -> float:
        """Wait until the bucket holds the expected cost and take it; return what was taken."""
        expected = expected_cost(doc, variables)
        waited = self._bucket.acquire(expected)
        if waited > 0:
            self._observer.throttle_wait(waited)
        return expected

    def _transport_failure(self, doc: Document, exc: httpx.TransportError, resend_safe: bool) -> ShopifyError:
        what = f"Shopify {doc.name}: {type(exc).__name__}: {exc or 'no detail'} ({self.endpoint})"
        if isinstance(exc, NOT_SENT):
            return _NotSent(what)
        if not resend_safe:
            # The request may have been applied and only the answer lost: resending could apply it twice.
            return ShopifyOutcomeUnknown(doc.name, exc)
        return ShopifyTransportError(what)

    def _http_failure(self, doc: Document, response: httpx.Response, resend_safe: bool) -> ShopifyError:
        error = ShopifyHTTPError(response.status_code, response.text, operation=doc.name,
                                 retry_after=_retry_after(response))  # fmt: skip
        self._observer.request("throttled" if error.is_rate_limited else f"http_{response.status_code // 100}xx")
        if error.is_server_error and not resend_safe:
            # A 5xx after a mutation reached Shopify says nothing about whether it ran.
            return ShopifyOutcomeUnknown(doc.name, error)
        return error

    def _json(self, doc: Document, response: httpx.Response, resend_safe: bool, taken: float) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body
        self._bucket.release(taken)
        self._observer.request("malformed")
        failure = ShopifyTransportError(
            f"Shopify {doc.name}: HTTP {response.status_code} with a body that is not a JSON object"
        )
        if not resend_safe:
            raise ShopifyOutcomeUnknown(doc.name, failure)
        raise failure

    def _observe_cost(
        self, doc: Document, variables: Mapping[str, Any], body: Mapping[str, Any], taken: float
    ) -> QueryCost | None:
        cost = parse_cost(body.get("extensions"))
        if cost is None or cost.throttle is None:
            self._bucket.release(taken)
            return cost
        throttled = "THROTTLED" in _codes(body.get("errors"))
        actual = 0.0 if throttled else cost.actual
        self._bucket.observe(cost.throttle, taken=taken, actual=actual if actual is not None else taken)
        if cost.requested is not None:
            remember_requested_cost(doc, variables, cost.requested)
        if actual:
            self._observer.cost_points(actual)
        with self._state_lock:
            self.throttle_status = cost.throttle
            self.last_cost = cost
        return cost

    def _data(
        self, doc: Document, body: Mapping[str, Any], resend_safe: bool, cost: QueryCost | None
    ) -> dict[str, Any]:
        errors = _error_list(body.get("errors"))
        if errors:
            codes = _codes(errors)
            if "THROTTLED" in codes:
                self._observer.request("throttled")
                raise ShopifyThrottled(
                    errors, operation=doc.name,
                    requested_cost=cost.requested if cost else None,
                    currently_available=cost.throttle.currently_available if cost and cost.throttle else None,
                    restore_rate=cost.throttle.restore_rate if cost and cost.throttle else None,
                )  # fmt: skip
            self._observer.request("graphql_error")
            error = ShopifyGraphQLError(errors, operation=doc.name, data=body.get("data"))
            if doc.is_mutation and not resend_safe and SERVER_ERROR_CODES & set(codes):
                raise ShopifyOutcomeUnknown(doc.name, error)
            raise error
        data = body.get("data")
        if not isinstance(data, dict):
            self._observer.request("graphql_error")
            raise ShopifyGraphQLError([{"message": "response carries neither data nor errors"}], operation=doc.name)
        self._observer.request("ok")
        return data

    # -- retry plumbing ------------------------------------------------------------------------------------

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ShopifyThrottled):
            if self._bucket.known:
                return 0.0  # the next attempt's acquire() waits exactly as long as the bucket needs
            return exc.seconds_until_available or self._backoff(state)
        if isinstance(exc, ShopifyHTTPError) and exc.retry_after is not None:
            return min(exc.retry_after, RETRY_AFTER_CAP_SECONDS)
        return float(self._backoff(state))

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        request_id = getattr(exc, "request_id", None)
        log.info(
            "shopify.retry", shop=self.shop_domain, attempt=state.attempt_number, error=str(exc), request_id=request_id
        )


def _retryable(exc: BaseException) -> bool:
    """THROTTLED, 429, 5xx, INTERNAL_SERVER_ERROR and transport failures. Never userErrors or other 4xx."""
    if isinstance(exc, ShopifyOutcomeUnknown):
        return False
    if isinstance(exc, ShopifyThrottled | ShopifyTransportError):
        return True
    if isinstance(exc, ShopifyHTTPError):
        return exc.is_rate_limited or exc.is_server_error
    if isinstance(exc, ShopifyGraphQLError):
        return bool(SERVER_ERROR_CODES & set(exc.codes))
    return False


def _verdict_lost(exc: BaseException) -> bool:
    """After the last attempt of a mutation: could it have been applied without us hearing so?"""
    if isinstance(exc, _NotSent | ShopifyThrottled):
        return False
    if isinstance(exc, ShopifyTransportError):
        return True
    if isinstance(exc, ShopifyHTTPError):
        return exc.is_server_error
    if isinstance(exc, ShopifyGraphQLError):
        return bool(SERVER_ERROR_CODES & set(exc.codes))
    return False


# -- requested cost memory: the server's figure for a document + page sizes, else our estimate ----------

_requested_costs: dict[tuple[str, tuple[tuple[str, int], ...]], float] = {}
_requested_lock = threading.Lock()
_REQUESTED_COSTS_MAX = 4096


def _cost_key(doc: Document, variables: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, int], ...]]:
    # Requested cost depends on the document and its page sizes (ints), not on ids, cursors or filters.
    sizes = tuple(sorted((k, v) for k, v in variables.items() if isinstance(v, int) and not isinstance(v, bool)))
    return doc.digest, sizes


def forget_requested_costs() -> None:
    """Drop what Shopify reported about documents' costs (tests; after changing documents at runtime)."""
    with _requested_lock:
        _requested_costs.clear()


def remember_requested_cost(doc: Document, variables: Mapping[str, Any], requested: float) -> None:
    with _requested_lock:
        if len(_requested_costs) >= _REQUESTED_COSTS_MAX:
            _requested_costs.clear()
        _requested_costs[_cost_key(doc, variables)] = requested


def expected_cost(doc: Document, variables: Mapping[str, Any]) -> float:
    """The requested cost Shopify reported last time for this document and page sizes, else an estimate."""
    with _requested_lock:
        known = _requested_costs.get(_cost_key(doc, variables))
    if known is not None:
        return known
    try:
        return float(documents.estimate_cost(doc, variables))
    except (DocumentError, KeyError, StopIteration):
        return 0.0


# -- small helpers --------------------------------------------------------------------------------------


def _session(shop_domain: str, api_version: str, access_token: str) -> shopify.Session:
    if not access_token:
        raise IntegrationUsageError(f"no Shopify access token for {shop_domain!r}")
    try:
        session = shopify.Session(shop_domain, api_version, access_token)
    except (shopify.VersionNotFoundError, shopify.api_version.InvalidVersionError):
        raise IntegrationUsageError(f"not a Shopify API version: {api_version!r} (expected YYYY-MM)") from None
    if session.url is None:
        raise IntegrationUsageError(f"not a Shopify shop domain: {shop_domain!r}")
    return session


def same_shop(domain: str, other: str | None) -> bool:
    if not other:
        return False
    return _normalised_domain(domain) == _normalised_domain(other)


def _normalised_domain(domain: str) -> str:
    try:
        return str(_session(domain, DEFAULT_API_VERSION, "-").url)
    except IntegrationUsageError:
        return domain.strip().lower()


def _as_document(document: str | Document) -> Document:
    if isinstance(document, Document):
        return document
    if document.isidentifier():
        return documents.load(document)
    return documents.from_source(document)


def _error_list(errors: Any) -> list[dict[str, Any]]:
    """Top-level ``errors`` as a list of dicts (Shopify sometimes sends one string)."""
    if not errors:
        return []
    if isinstance(errors, str):
        return [{"message": errors}]
    if isinstance(errors, list):
        return [e if isinstance(e, dict) else {"message": str(e)} for e in errors]
    return [{"message": str(errors)}]


def _codes(errors: Any) -> list[str]:
    return [str(e["extensions"]["code"]) for e in _error_list(errors)
            if isinstance(e.get("extensions"), dict) and e["extensions"].get("code")]  # fmt: skip


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def record_throttle_status(shop: Shop, status: ThrottleStatus | None) -> None:
    """Copy the last observed bucket onto the shop's ``throttle_*`` columns (caller commits)."""
    if status is None:
        return
    shop.throttle_maximum_available = _points(status.maximum_available)
    shop.throttle_currently_available = _points(status.currently_available)
    shop.throttle_restore_rate = _points(status.restore_rate)
    shop.throttle_observed_at = status.observed_at.astimezone(dt.UTC)


def _points(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))
