"""Shopify's webhook signature: one home for the receiver that verifies it and the sandbox that signs.

``X-Shopify-Hmac-Sha256`` is the base64 of HMAC-SHA256 over the *raw* request body, keyed with the app's
client secret. Verify the bytes as received (re-serialized JSON has other bytes) and in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    """The value Shopify puts in ``X-Shopify-Hmac-Sha256`` for ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(secret: str, body: bytes, received: str) -> bool:
    """True when ``received`` is the signature of ``body`` under ``secret`` (constant-time compare)."""
    return hmac.compare_digest(sign(secret, body).encode(), received.encode())
