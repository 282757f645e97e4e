"""The client against the sandbox: typed errors, retries on transient failures only, token refresh."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from integrations.aliexpress import errors
from integrations.aliexpress.client import classify_error
from integrations.aliexpress.models import TokenPair


def _sync_requests(sb) -> int:
    return sum(1 for r in sb.requests if "refresh_token" not in r)


def test_get_order_reads_amount_times_and_tracking(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order("12.34", "EUR")
    sb.ship(oid, "LP00112233CN")
    sb.clock.advance(days=3)
    with sb.client() as client:
        order = client.get_order(oid)
    assert order.order_status == "WAIT_BUYER_ACCEPT_GOODS"
    assert order.amount == Decimal("12.34")
    assert isinstance(order.amount, Decimal)
    assert order.currency == "EUR"
    assert order.paid_at == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # sent as Pacific time, read back as UTC
    assert order.tracking_numbers == ("LP00112233CN",)
    assert order.protection_left == dt.timedelta(days=57)


def test_tracking_events(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.ship(oid, "LP1")
    sb.clock.advance(days=9)
    sb.deliver(oid)
    with sb.client() as client:
        (parcel,) = client.get_tracking(oid)
    assert parcel.tracking_number == "LP1"
    assert [e.description for e in parcel.events] == ["Shipment accepted by the carrier", "Delivered"]
    assert parcel.events[1].at == sb.clock.now()


def test_unknown_order(aliexpress_sandbox) -> None:
    with aliexpress_sandbox.client() as client, pytest.raises(errors.UnknownOrder):
        client.get_order("8100000000000001")


def test_bad_signature_is_typed_and_not_retried(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    before = _sync_requests(sb)
    with sb.client(app_secret="not-the-secret") as client, pytest.raises(errors.BadSignature) as info:
        client.get_order(oid)
    assert info.value.code == "IncompleteSignature"
    assert info.value.request_id
    assert _sync_requests(sb) - before == 1


def test_expired_token_is_refreshed_once_and_the_call_repeated(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    seen: list[TokenPair] = []
    with sb.client(on_tokens=seen.append) as client:
        sb.expire_token()
        assert client.get_order(oid).order_status == "WAIT_SELLER_SEND_GOODS"
        assert client.access_token == sb.access_token
    assert len(seen) == 1
    assert seen[0].refresh_token == sb.world.refresh_token


def test_expired_token_without_refresh_token_raises(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    with sb.client(refresh_token=None) as client:
        sb.expire_token()
        with pytest.raises(errors.TokenExpired):
            client.get_order(oid)


@pytest.mark.parametrize("fault", ["http_500", "isp_error", "rate_limit"])
def test_transient_failures_are_retried(aliexpress_sandbox, fault: str) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.fail_next(fault, 2)
    with sb.client(max_attempts=3) as client:
        assert client.get_order(oid).order_status == "WAIT_SELLER_SEND_GOODS"


def test_retries_give_up_with_the_typed_error(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.fail_next("rate_limit", 5)
    before = _sync_requests(sb)
    with sb.client(max_attempts=3) as client, pytest.raises(errors.RateLimited):
        client.get_order(oid)
    assert _sync_requests(sb) - before == 3


@pytest.mark.parametrize("fault", ["malformed", "not_json", "missing_status"])
def test_malformed_responses_are_typed_and_not_retried(aliexpress_sandbox, fault: str) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.fail_next(fault)
    before = _sync_requests(sb)
    with sb.client() as client, pytest.raises(errors.MalformedResponse):
        client.get_order(oid)
    assert _sync_requests(sb) - before == 1


def test_timeout_is_a_gateway_error_then_retried(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.fail_next("timeout")
    with sb.client(timeout=0.3, max_attempts=2) as client:
        assert client.get_order(oid).order_status == "WAIT_SELLER_SEND_GOODS"
    sb.fail_next("timeout")
    with sb.client(timeout=0.3, max_attempts=1) as client, pytest.raises(errors.GatewayError, match="timed out"):
        client.get_order(oid)


def test_latency_switch_delays_responses(aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.set_latency(0.5)
    with sb.client(timeout=0.2, max_attempts=1) as client, pytest.raises(errors.GatewayError):
        client.get_order(oid)
    sb.set_latency(0)


def test_connection_refused_is_transient() -> None:
    from tenacity import wait_none

    from integrations.aliexpress.client import AliExpressClient

    client = AliExpressClient(base_url="http://127.0.0.1:9", app_key="k", app_secret="s", access_token="t",
                              max_attempts=2, retry_wait=wait_none(), timeout=0.5)  # fmt: skip
    with client, pytest.raises(errors.GatewayError):
        client.get_order("8100000000000001")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"code": "IncompleteSignature", "msg": "x"}, errors.BadSignature),
        ({"code": "IllegalAccessToken"}, errors.TokenExpired),
        ({"code": "SessionExpired"}, errors.TokenExpired),
        ({"code": "ApiCallLimit"}, errors.RateLimited),
        ({"code": "AppCallLimit"}, errors.RateLimited),
        ({"code": "ORDER_NOT_EXIST"}, errors.UnknownOrder),
        ({"code": "isv.biz-error", "sub_code": "B_ORDER_NOT_FOUND"}, errors.UnknownOrder),
        ({"type": "ISP", "code": "isp.unknown-error"}, errors.GatewayError),
        ({"type": "ISV", "code": "MissingParameter"}, errors.RequestRejected),
    ],
)
def test_classify_error(body: dict[str, str], kind: type[Exception]) -> None:
    assert type(classify_error(body)) is kind
