"""Keep secrets and customer PII out of every log line.

Two nets, because either alone leaks:

* **by key name**: a value stored under a key that names a secret (``access_token``, ``client_secret``,
  ``X-Shopify-Hmac-Sha256``, ``authorization``, ``session``, ``sign``…) or a piece of customer PII
  (``email``, ``phone``, ``first_name``, ``shipping_address``…) is replaced whole, however deep it sits in
  a dict or list;
* **by value**: any string, including free text such as a formatted stdlib message or a traceback, has
  emails, Shopify tokens (``shpat_…``), bearer tokens, ``secret=…`` style query parameters, URL
  passwords, ``+``-prefixed phone numbers and the literal values of the configured secrets masked.

Invariant: :func:`redact` never raises and never returns a structure that contains a registered secret
literal. Registering a secret is idempotent; short values (< 6 characters) are refused because masking
them would mangle unrelated text.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

MASK = "[REDACTED]"

_SAFE_SCALARS = (bool, int, float, Decimal, dt.date, dt.time, dt.timedelta, uuid.UUID, enum.Enum)

#: Substrings that mark a key as secret wherever they appear in it (``x-shopify-hmac-sha256``).
_SECRET_SUBSTRINGS = ("token", "secret", "password", "passwd", "hmac", "authorization", "cookie", "api_key")
#: Whole words (after splitting the key on ``_``, ``-``, ``.`` and case changes) that mark a key as secret.
_SECRET_WORDS = frozenset({"session", "sign", "signature", "apikey", "credentials", "pwd"})
#: Whole keys that hold customer PII (compared lower-cased, with ``-`` read as ``_``).
_PII_KEYS = frozenset(
    {
        "email", "contact_email", "customer_email", "phone", "phone_number", "mobile", "customer_phone",
        "first_name", "last_name", "full_name", "customer_name", "name_on_card", "firstname", "lastname",
        "address", "address1", "address2", "street", "zip", "postal_code", "postcode",
        "shipping_address", "billing_address", "default_address", "addresses", "customer",
        "browser_ip", "client_ip", "ip_address", "note_attributes",
    }
)  # fmt: skip

#: Each pattern with text it cannot match without (lower-cased first when the pattern ignores case), so
#: a string lacking it skips the pattern: the same result, and most log values lack all of them (a log
#: line is several strings; running all six patterns on each was half of what a line cost).
_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"\bshp[a-z]{2}_[A-Za-z0-9]{8,}"), MASK, "shp"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), f"Bearer {MASK}", "bearer"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), MASK, "@"),
    # user:password@ in URLs (DATABASE_URL, REDIS_URL in connection errors).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@"), rf"\1{MASK}@", "://"),
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|token|client_secret|app_secret|secret|password|hmac|sign"
            r"|signature|session)=([^&\s\"',;]+)"
        ),
        rf"\1={MASK}",
        "=",
    ),
    (re.compile(r"(?<![\w+])\+\d[\d ().-]{7,}\d"), MASK, "+"),
)
#: (pattern, replacement, needle, whether the needle is looked for in the lower-cased text)
_VALUE_SCRUBS = tuple((p, r, needle, bool(p.flags & re.IGNORECASE)) for p, r, needle in _VALUE_PATTERNS)
_MIN_LITERAL = 6

_MAX_DEPTH = 8
_lock = threading.Lock()
_secret_literals: tuple[str, ...] = ()
_literal_pattern: re.Pattern[str] | None = None


def register_secrets(values: Iterable[str | None]) -> None:
    """Mask these literal values wherever they appear (settings' secrets, per-shop tokens read from the DB)."""
    global _secret_literals, _literal_pattern
    fresh = {value for value in values if value and len(value) >= _MIN_LITERAL}
    with _lock:
        merged = tuple(sorted(set(_secret_literals) | fresh, key=len, reverse=True))
        if merged == _secret_literals:
            return
        _secret_literals = merged
        _literal_pattern = re.compile("|".join(re.escape(value) for value in merged)) if merged else None


def forget_secrets() -> None:
    """Drop every registered literal (tests, or a settings reload)."""
    global _secret_literals, _literal_pattern
    with _lock:
        _secret_literals, _literal_pattern = (), None


@functools.lru_cache(maxsize=4096)
def is_sensitive_key(key: str) -> bool:
    """True when a value under ``key`` must never be logged (a secret or customer PII).

    Cached: log lines reuse a few dozen keys, and a key's verdict never changes.
    """
    lowered = key.lower().replace("-", "_")
    if lowered in _PII_KEYS or any(part in lowered for part in _SECRET_SUBSTRINGS):
        return True
    words = re.split(r"[_.\s]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower())
    return any(word in _SECRET_WORDS for word in words)


def redact_text(text: str) -> str:
    """Mask secrets and PII found by value in free text."""
    pattern = _literal_pattern
    if pattern is not None and len(text) >= _MIN_LITERAL:
        text = pattern.sub(MASK, text)
    for value_pattern, replacement, needle, any_case in _VALUE_SCRUBS:
        if needle in (text.lower() if any_case else text):
            text = value_pattern.sub(replacement, text)
    return text


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with sensitive keys masked and strings scrubbed; other scalars unchanged."""
    if isinstance(value, str):
        return redact_text(value)
    if depth >= _MAX_DEPTH:
        # Too deep to inspect cheaply: better a useless line than a leaked address.
        return MASK if isinstance(value, (Mapping, list, tuple, set)) else value
    if isinstance(value, Mapping):
        return {
            key: (MASK if isinstance(key, str) and is_sensitive_key(key) else redact(item, depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set)):
        return [redact(item, depth + 1) for item in value]
    if value is None or isinstance(value, _SAFE_SCALARS):
        return value
    # Anything else (bytes of a webhook body, a model, an exception) is rendered as text: scrub that text.
    return redact_text(repr(value))
