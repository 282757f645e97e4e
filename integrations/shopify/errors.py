"""One error type per Shopify failure channel (DOMAIN.md §2: an HTTP 200 is not success).

- ``ShopifyHTTPError``: the HTTP layer said no (4xx, 5xx): ``status`` and an excerpt of the body.
- ``ShopifyTransportError``: no HTTP answer at all (connection refused, reset, timeout) on a read.
- ``ShopifyGraphQLError``: the response carries top-level ``errors`` (syntax, access, cost…); ``codes``
  lists their ``extensions.code``. ``ShopifyThrottled`` is the THROTTLED case.
- ``ShopifyUserErrors``: the mutation ran and refused the input (payload ``userErrors``); raised by
  ``raise_for_user_errors``. Never retried: the same input gets the same refusal.
- ``ShopifyOutcomeUnknown``: a mutation was sent and no verdict came back (timeout, dropped connection,
  5xx). It may have been applied: read Shopify before doing anything that could apply it twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from integrations.errors import IntegrationError

BODY_EXCERPT_CHARS = 300


class ShopifyError(IntegrationError):
    """Base of every Shopify failure; the message is one line naming the operation.

    ``request_id``: Shopify's ``X-Request-Id`` of the response that carried the failure, when there was one.
    """

    request_id: str | None = None


class ShopifyHTTPError(ShopifyError):
    def __init__(self, status: int, body: str, *, operation: str = "", retry_after: float | None = None) -> None:
        self.status = status
        self.body_excerpt = " ".join(body[:BODY_EXCERPT_CHARS].split())
        self.operation = operation
        self.retry_after = retry_after
        super().__init__(f"Shopify {operation or 'request'}: HTTP {status}: {self.body_excerpt}")

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500

    @property
    def is_rate_limited(self) -> bool:
        return self.status == 429


class ShopifyTransportError(ShopifyError):
    """No HTTP response (connection failure or timeout) after the retries a read is allowed."""


class ShopifyGraphQLError(ShopifyError):
    """Top-level GraphQL ``errors``. ``data`` keeps whatever partial data came with them.

    For a mutation, a non-null root payload in ``data`` means the mutation ran despite the errors.
    """

    def __init__(self, errors: Sequence[Mapping[str, Any]], *, operation: str = "", data: Any = None) -> None:
        self.errors = [dict(e) for e in errors]
        self.codes = [code for code in (_code_of(e) for e in self.errors) if code]
        self.operation = operation
        self.data = data
        first = self.errors[0].get("message", "unknown error") if self.errors else "unknown error"
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        codes = f" [{', '.join(self.codes)}]" if self.codes else ""
        super().__init__(f"Shopify {operation or 'query'}: {first}{codes}{more}")


class ShopifyThrottled(ShopifyGraphQLError):
    """THROTTLED: the request was refused before running (safe to resend after the bucket refills)."""

    def __init__(
        self,
        errors: Sequence[Mapping[str, Any]],
        *,
        operation: str = "",
        requested_cost: float | None = None,
        currently_available: float | None = None,
        restore_rate: float | None = None,
    ) -> None:
        super().__init__(errors, operation=operation)
        self.requested_cost = requested_cost
        self.currently_available = currently_available
        self.restore_rate = restore_rate

    @property
    def seconds_until_available(self) -> float | None:
        """How long the bucket needs to hold the requested cost, from the response's own numbers."""
        if self.requested_cost is None or self.currently_available is None or not self.restore_rate:
            return None
        return max(0.0, (self.requested_cost - self.currently_available) / self.restore_rate)


@dataclass(frozen=True)
class UserError:
    field: tuple[str, ...] | None
    message: str
    code: str | None

    def __str__(self) -> str:
        where = ".".join(self.field) + ": " if self.field else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{self.message}{code}"


class ShopifyUserErrors(ShopifyError):
    """The mutation refused its input; ``user_errors`` lists field path, message and code of each."""

    def __init__(self, user_errors: Sequence[UserError], *, operation: str = "") -> None:
        self.user_errors = list(user_errors)
        self.operation = operation
        self.codes = [e.code for e in self.user_errors if e.code]
        super().__init__(f"Shopify {operation or 'mutation'} refused: " + "; ".join(map(str, self.user_errors)))


class ShopifyOutcomeUnknown(ShopifyError):
    """A mutation may or may not have been applied. Read Shopify's state before any retry.

    ``cause`` is the transport failure or HTTP error that hid the verdict.
    """

    def __init__(self, operation: str, cause: BaseException) -> None:
        self.operation = operation
        self.cause = cause
        super().__init__(
            f"Shopify {operation or 'mutation'}: outcome unknown ({type(cause).__name__}: {cause}); "
            "read the order before retrying"
        )


def _code_of(error: Mapping[str, Any]) -> str | None:
    extensions = error.get("extensions")
    if isinstance(extensions, Mapping):
        code = extensions.get("code")
        return str(code) if code is not None else None
    return None


def parse_user_errors(raw: Any) -> list[UserError]:
    """``userErrors``-shaped list (``field`` may be null, ``code`` may be absent) → ``UserError``s."""
    if not isinstance(raw, list):
        return []
    parsed = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        field = item.get("field")
        parsed.append(
            UserError(
                field=tuple(str(part) for part in field) if isinstance(field, list) else None,
                message=str(item.get("message", "")),
                code=str(item["code"]) if item.get("code") is not None else None,
            )
        )
    return parsed


def raise_for_user_errors(payload: Mapping[str, Any] | None, key: str = "userErrors", *, operation: str = "") -> None:
    """Raise ``ShopifyUserErrors`` when a mutation payload carries non-empty ``payload[key]``.

    ``payload`` is the mutation's object (e.g. ``data["refundCreate"]``); for orderCancel pass
    ``key="orderCancelUserErrors"``. A missing payload is not an error here (the caller checks data).
    """
    if not payload:
        return
    errors = parse_user_errors(payload.get(key))
    if errors:
        raise ShopifyUserErrors(errors, operation=operation)
