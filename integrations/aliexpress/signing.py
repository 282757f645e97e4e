"""Request signing for the AliExpress Open Platform gateway (DOMAIN.md §3).

``sign = HEX_UPPER(HMAC_SHA256(app_secret, [api_path] + concat(sorted(key + value))))``

Rules the gateway enforces (and the sandbox checks the same way):

- every request parameter except ``sign`` itself takes part, common ones (``app_key``, ``timestamp``,
  ``sign_method``, ``session``/``access_token``, ``method``) and business ones alike;
- parameters are sorted by name (byte order) and concatenated as ``name + value`` with no separator;
- for a *system* API whose name contains ``/`` (``/auth/token/refresh``), the API path is prefixed to
  that string; business APIs (``aliexpress.trade.ds.order.get``) have no prefix;
- the key is the app secret, the digest HMAC-SHA256, the output upper-case hex (64 characters).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGN_METHOD = "sha256"


def signing_string(params: Mapping[str, str], api_path: str | None = None) -> str:
    """The exact string that is HMAC'd: ``[api_path] + k1v1k2v2…`` over the sorted parameters."""
    body = "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign")
    prefix = api_path if api_path and "/" in api_path else ""
    return prefix + body


def sign(params: Mapping[str, str], app_secret: str, api_path: str | None = None) -> str:
    """The ``sign`` parameter for ``params`` (``sign`` itself is ignored if present)."""
    message = signing_string(params, api_path).encode("utf-8")
    return hmac.new(app_secret.encode("utf-8"), message, hashlib.sha256).hexdigest().upper()


def signature_matches(params: Mapping[str, str], app_secret: str, api_path: str | None = None) -> bool:
    """Constant-time check of ``params["sign"]`` (what the gateway does on every request)."""
    given = params.get("sign", "")
    return hmac.compare_digest(given.upper(), sign(params, app_secret, api_path))
