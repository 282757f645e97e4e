"""Signing against vectors computed independently: strings built by hand, HMAC from the stdlib."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from integrations.aliexpress import signing


def _hmac_upper(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest().upper()


def test_business_api_vector_built_by_hand() -> None:
    params = {
        "method": "aliexpress.trade.ds.order.get",
        "app_key": "12345678",
        "timestamp": "1517820392000",
        "sign_method": "sha256",
        "session": "access-token-1",
        "single_order_query": '{"order_id":8123456789012345}',
    }
    # Sorted by name: app_key, method, session, sign_method, single_order_query, timestamp.
    by_hand = (
        "app_key12345678"
        "methodaliexpress.trade.ds.order.get"
        "sessionaccess-token-1"
        "sign_methodsha256"
        'single_order_query{"order_id":8123456789012345}'
        "timestamp1517820392000"
    )
    assert signing.signing_string(params) == by_hand
    expected = _hmac_upper("helloworld", by_hand)
    assert signing.sign(params, "helloworld") == expected
    assert len(expected) == 64
    assert expected == expected.upper()


def test_system_api_is_prefixed_with_its_path() -> None:
    params = {"app_key": "500", "refresh_token": "r-1", "sign_method": "sha256", "timestamp": "1700000000000"}
    by_hand = "/auth/token/refreshapp_key500refresh_tokenr-1sign_methodsha256timestamp1700000000000"
    assert signing.sign(params, "s3cr3t", "/auth/token/refresh") == _hmac_upper("s3cr3t", by_hand)
    # A business API name has no "/": no prefix even when passed as api_path.
    assert signing.signing_string(params, "aliexpress.ds.order.create") == by_hand.removeprefix("/auth/token/refresh")


def test_public_documentation_vector_for_the_string_to_sign() -> None:
    # The Open Platform family's published example: foo:1, bar:2, foo_bar:3, foobar:4 sort (ASCII) to
    # bar, foo, foo_bar, foobar and concatenate to "bar2foo1foo_bar3foobar4".
    params = {"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}
    assert signing.signing_string(params) == "bar2foo1foo_bar3foobar4"
    assert signing.sign(params, "secret") == _hmac_upper("secret", "bar2foo1foo_bar3foobar4")


def test_sign_itself_never_signed_and_unicode_is_utf8() -> None:
    params = {"b": "é", "a": "1", "sign": "IGNORED"}
    assert signing.signing_string(params) == "a1bé"
    assert signing.sign(params, "k") == hmac.new(b"k", "a1bé".encode(), hashlib.sha256).hexdigest().upper()


def test_signature_matches_detects_tampering() -> None:
    params = {"app_key": "1", "timestamp": "2", "sign_method": "sha256", "method": "m"}
    signed = {**params, "sign": signing.sign(params, "secret")}
    assert signing.signature_matches(signed, "secret")
    assert signing.signature_matches({**signed, "sign": signed["sign"].lower()}, "secret")
    assert not signing.signature_matches({**signed, "timestamp": "3"}, "secret")
    assert not signing.signature_matches(signed, "other-secret")
    assert not signing.signature_matches(params, "secret")


@pytest.mark.parametrize("tamper", ["secret", "param"])
def test_sandbox_answers_a_wrong_signature_with_the_gateways_error(aliexpress_sandbox, tamper: str) -> None:
    sb = aliexpress_sandbox
    params = {
        "app_key": sb.config.app_key,
        "timestamp": "1",
        "sign_method": "sha256",
        "method": "aliexpress.trade.ds.order.get",
        "session": sb.access_token,
        "single_order_query": '{"order_id": 1}',
    }
    secret = "wrong" if tamper == "secret" else sb.config.app_secret
    params["sign"] = signing.sign(params, secret)
    if tamper == "param":
        params["timestamp"] = "2"
    body = httpx.post(f"{sb.base_url}/sync", params={"method": params["method"]}, data=params).json()
    error = body["error_response"]
    assert error["code"] == "IncompleteSignature"
    assert error["type"] == "ISV"
    assert error["msg"] == "The request signature does not conform to platform standards"
    assert error["request_id"]


def test_sandbox_token_refresh_checks_the_path_prefixed_signature(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    params = {
        "app_key": sb.config.app_key,
        "timestamp": "1",
        "sign_method": "sha256",
        "refresh_token": sb.config.refresh_token,
    }
    unprefixed = {**params, "sign": signing.sign(params, sb.config.app_secret)}
    body = httpx.post(f"{sb.base_url}/rest/auth/token/refresh", data=unprefixed).json()
    assert body["code"] == "IncompleteSignature"
    assert body["type"] == "ISV"
    prefixed = {**params, "sign": signing.sign(params, sb.config.app_secret, "/auth/token/refresh")}
    body = httpx.post(f"{sb.base_url}/rest/auth/token/refresh", data=prefixed).json()
    assert body["code"] == "0"
    assert body["access_token"] == sb.access_token


def test_published_gateway_vector() -> None:
    # The Open Platform gateway family's documentation ("HTTP request sample", Lazada Open Platform, the
    # same IOP gateway as api-sg.aliexpress.com): GetOrder /order/get, App Secret "helloworld".
    params = {
        "app_key": "123456",
        "access_token": "test",
        "timestamp": "1517820392000",
        "sign_method": "sha256",
        "order_id": "1234",
    }
    assert signing.signing_string(params, "/order/get") == (
        "/order/getaccess_tokentestapp_key123456order_id1234sign_methodsha256timestamp1517820392000"
    )
    assert signing.sign(params, "helloworld", "/order/get") == (
        "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
    )
