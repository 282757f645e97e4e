"""The address the current API request came in on (scheme and host), for URLs the sandbox hands out.

A bulk operation's result ``url`` is read in a later request, maybe over another route (``https://`` via a
hosts entry, or the plain address): it follows the request reading it, like Shopify's signed URLs follow
the client, not the address the sandbox happened to bind.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
_request_base: ContextVar[str | None] = ContextVar("shopify_sandbox_request_base", default=None)


def with_request_base(base: str, function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` with ``base`` (``scheme://host[:port]``) as the current request's address."""
    token = _request_base.set(base)
    try:
        return function(*args)
    finally:
        _request_base.reset(token)


def request_base() -> str | None:
    return _request_base.get()
