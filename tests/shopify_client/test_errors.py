"""One error type per channel, each a one-line message a person can act on."""

from __future__ import annotations

import pytest

from integrations.errors import IntegrationError
from integrations.shopify.errors import (
    ShopifyGraphQLError,
    ShopifyHTTPError,
    ShopifyThrottled,
    ShopifyUserErrors,
    UserError,
    raise_for_user_errors,
)


def test_user_errors_are_raised_with_field_message_and_code() -> None:
    payload = {
        "refund": None,
        "orderCancelUserErrors": [
            {"field": ["orderId"], "message": "Order has already been cancelled", "code": "ORDER_ALREADY_CANCELLED"},
            {"field": None, "message": "Something else"},
        ],
    }
    with pytest.raises(ShopifyUserErrors) as caught:
        raise_for_user_errors(payload, key="orderCancelUserErrors", operation="OrderCancel")
    error = caught.value
    assert error.user_errors[0] == UserError(
        ("orderId",), "Order has already been cancelled", "ORDER_ALREADY_CANCELLED"
    )
    assert error.user_errors[1] == UserError(None, "Something else", None)
    assert error.codes == ["ORDER_ALREADY_CANCELLED"]
    assert "\n" not in str(error)
    assert "orderId: Order has already been cancelled" in str(error)
    assert isinstance(error, IntegrationError)


def test_empty_or_missing_user_errors_do_not_raise() -> None:
    raise_for_user_errors({"userErrors": []})
    raise_for_user_errors(None)
    raise_for_user_errors({"other": 1})


def test_graphql_error_keeps_codes_and_partial_data() -> None:
    errors = [
        {"message": "Field 'nope' doesn't exist on type 'Order'", "extensions": {"code": "undefinedField"}},
        {"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}},
    ]
    error = ShopifyGraphQLError(errors, operation="OrderById", data={"order": None})
    assert error.codes == ["undefinedField", "ACCESS_DENIED"]
    assert error.data == {"order": None}
    assert (
        str(error)
        == "Shopify OrderById: Field 'nope' doesn't exist on type 'Order' [undefinedField, ACCESS_DENIED] (+1 more)"
    )


def test_throttled_knows_how_long_the_bucket_needs() -> None:
    error = ShopifyThrottled([{"message": "Throttled", "extensions": {"code": "THROTTLED"}}], requested_cost=302,
                             currently_available=102, restore_rate=100)  # fmt: skip
    assert isinstance(error, ShopifyGraphQLError)
    assert error.seconds_until_available == pytest.approx(2.0)
    assert ShopifyThrottled([]).seconds_until_available is None


def test_http_error_carries_status_and_a_one_line_excerpt() -> None:
    error = ShopifyHTTPError(
        401, '{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}\n' * 20
    )
    assert error.status == 401
    assert not error.is_server_error
    assert len(error.body_excerpt) <= 300
    assert "\n" not in str(error)
    assert ShopifyHTTPError(503, "").is_server_error
