"""Typed errors for the AliExpress gateway. Only ``TransientError`` subclasses are worth retrying."""

from __future__ import annotations


class AliExpressError(Exception):
    """Anything the gateway (or the way to it) said no with. ``code`` is the gateway's own code."""

    def __init__(self, message: str, *, code: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id


class TransientError(AliExpressError):
    """May succeed if tried again later: network failure, timeout, HTTP 5xx, rate limit."""


class GatewayError(TransientError):
    """The gateway failed (5xx, an ISP-type error, a connection that broke). Retried."""


class RateLimited(TransientError):
    """``ApiCallLimit``/``AppCallLimit``: the app exceeded its call budget. Retried with backoff."""


class TokenExpired(AliExpressError):
    """``IllegalAccessToken``/``SessionExpired``: the access token must be refreshed (or re-authorised)."""


class BadSignature(AliExpressError):
    """``IncompleteSignature``: our signature does not match (wrong secret or a signing bug). Never retried."""


class UnknownOrder(AliExpressError):
    """The gateway does not know this order id for this account."""


class MalformedResponse(AliExpressError):
    """The response could not be read (not JSON, or JSON without the expected shape)."""


class RequestRejected(AliExpressError):
    """Any other ISV (caller-side) error: missing or invalid parameter, no permission… Never retried."""
