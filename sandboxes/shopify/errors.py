"""Errors the sandbox reports in Shopify's top-level ``errors`` shape (``extensions.code``)."""

from __future__ import annotations

from typing import Any


class ShopifyError(Exception):
    """A top-level GraphQL error: ``{"message", "extensions": {"code", ...}}``."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extensions = {"code": code, **extensions}


class ControlError(ValueError):
    """A control request names an unknown order or asks for an impossible step (one-line message)."""


def unsupported(what: str) -> ShopifyError:
    """The document is valid for Shopify but uses something the sandbox does not implement."""
    return ShopifyError(f"not supported by the sandbox: {what}", "NOT_SUPPORTED_BY_SANDBOX")
