"""Secrets and customer PII are masked by key name and by value, however deep and in whatever form."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.observability import redaction
from worker.observability.redaction import MASK, forget_secrets, is_sensitive_key, redact, redact_text, register_secrets


@pytest.fixture(autouse=True)
def _no_literals() -> None:
    forget_secrets()


@pytest.mark.parametrize(
    "key",
    [
        "access_token", "SHOPIFY_ACCESS_TOKEN", "client_secret", "X-Shopify-Hmac-Sha256", "hmac", "Authorization",
        "password", "session", "sign", "signature", "refreshToken", "app_secret", "cookie", "email", "phone",
        "first_name", "last_name", "shipping_address", "billing_address", "address1", "zip", "customer",
    ],
)  # fmt: skip
def test_sensitive_keys_are_recognised(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", ["order_id", "signal", "assigned", "designation", "name", "status", "sessions_open"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_sensitive_key(key)


def test_nested_payload_is_masked_by_key_and_value() -> None:
    payload = {
        "id": 1001,
        "headers": {"X-Shopify-Hmac-Sha256": "c2VjcmV0aG1hYw==", "X-Shopify-Topic": "orders/create"},
        "order": {"email": "jane@example.com", "customer": {"first_name": "Jane"}, "note": "call jane@example.com"},
        "lines": [{"title": "Mug", "properties": [{"phone": "+44 20 7946 0958"}]}],
    }
    out = redact(payload)
    assert out["id"] == 1001
    assert out["headers"] == {"X-Shopify-Hmac-Sha256": MASK, "X-Shopify-Topic": "orders/create"}
    assert out["order"] == {"email": MASK, "customer": MASK, "note": f"call {MASK}"}
    assert out["lines"][0]["properties"][0]["phone"] == MASK
    assert payload["order"]["email"] == "jane@example.com", "the caller's data is not modified"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("token shpat_0123456789abcdef0123456789abcdef used", "shpat_0123456789abcdef"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("mail from ann.o'neil+tag@mail.example.co.uk", "mail.example.co.uk"),
        ("postgresql://dropsync:hunter2hunter2@db:5432/ledger", "hunter2hunter2"),
        ("GET /sync?method=x&session=abc123def&sign=ABCDEF0123", "abc123def"),
        ("callback?shop=x.myshopify.com&hmac=deadbeefcafe&code=1", "deadbeefcafe"),
        ("customer phone +1 (555) 010-9999 asked", "010-9999"),
    ],
)
def test_values_are_scrubbed_in_free_text(text: str, leak: str) -> None:
    assert leak in text
    assert leak not in redact_text(text)


def test_registered_literal_secrets_are_masked_anywhere() -> None:
    register_secrets(["an-aliexpress-app-secret-42", None, "short"])
    secret = "an-aliexpress-app-secret-42"
    out = redact({"message": f"signing with {secret} failed", "args": (secret,)})
    assert "an-aliexpress-app-secret-42" not in repr(out)
    assert redact_text("short text stays") == "short text stays", "values under 6 characters are not registered"


def test_objects_and_bytes_are_scrubbed_through_their_repr() -> None:
    body = b'{"email": "bob@example.org", "total": "10.00"}'
    assert "bob@example.org" not in str(redact({"body": body}))
    assert redact({"n": 3, "ok": True, "missing": None}) == {"n": 3, "ok": True, "missing": None}


def _every_pattern(text: str) -> str:
    """Each value pattern run whatever the text holds: what ``redact_text`` skips must change nothing."""
    for pattern, replacement, _needle in redaction._VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_PIECES = ["shpat_0123456789abcdef", "SHPAT_0123456789ABCDEF", "BeArEr eyJhbGciOiJIUzI1NiJ9x", "bearer", "\u212a",
           "a@b.co", "@", "postgres://u:hunter2hunter2@h/db", "://", "TOKEN=abc123", "Session=zz9", "=",
           "+44 20 7946 0958", "+", "ſ", "İ", " ", "\n", "x", "order #1001", "ID:"]  # fmt: skip


@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=8), max_size=12).map("".join))
def test_skipping_a_pattern_whose_needle_is_absent_changes_nothing(text: str) -> None:
    assert redact_text(text) == _every_pattern(text)


@pytest.mark.parametrize(("pattern", "needle"), [(p, n) for p, _r, n in redaction._VALUE_PATTERNS])
def test_each_needle_is_text_its_pattern_requires(pattern: re.Pattern[str], needle: str) -> None:
    """The needle is in every sample the pattern matches (lower-cased when the pattern ignores case)."""
    samples = ["shpat_0123456789abcdef", "BEARER eyJhbGciOiJIUzI1NiJ9", "jane@example.com",
               "redis://user:pw123456@host", "TOKEN=abc123", "hmac=deadbeef", "+1 (555) 010-9999"]  # fmt: skip
    matched = [s for s in samples if pattern.search(s)]
    assert matched
    for sample in matched:
        assert needle in (sample.lower() if pattern.flags & re.IGNORECASE else sample)
