"""View base class, the registry of supported fields, money and connection helpers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from sandboxes.shopify.model import CENT, Pair

REGISTRY: dict[str, set[str]] = {}
#: Each view class by its type name, for back-links (a Fulfillment's ``order``, a Job's ``query``): they
#: resolve at render time, so a view module never imports the module that imports it (was a cycle).
VIEW_CLASSES: dict[str, type[View]] = {}
T = TypeVar("T")

# Plain-dict types and the keys their builders always fill.
DICT_TYPES: dict[str, set[str]] = {
    "MoneyV2": {"amount", "currencyCode"},
    "MoneyBag": {"shopMoney", "presentmentMoney"},
    "Attribute": {"key", "value"},
    "PageInfo": {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"},
    "TaxLine": {"title", "rate", "ratePercentage", "priceSet", "price", "channelLiable", "source"},
    "FulfillmentTrackingInfo": {"company", "number", "url"},
    "UserError": {"field", "message"},
    "OrderCancelUserError": {"field", "message", "code"},
    "BulkOperationUserError": {"field", "message", "code"},
    "FulfillmentOrderSupportedAction": {"action", "externalUrl"},
    "ApiVersion": {"handle", "displayName", "supported"},
    "WebhookHttpEndpoint": {"callbackUrl"},
    "ShippingRefund": {"amountSet", "maximumRefundableSet", "taxSet"},
    "Count": {"count", "precision"},
    "ShopPlan": {"displayName", "partnerDevelopment", "publicDisplayName", "shopifyPlus"},
    "FulfillmentOrderCancelError": {"field", "message", "code"},
    "ReturnUserError": {"field", "message", "code"},
    "ReturnDecline": {"reason", "note"},
    "RestockingFee": {"id", "percentage", "amountSet"},
    "ReturnShippingFee": {"id", "amountSet"},
    "RefundReturnOutcome": {"amount", "suggestedTransactions", "suggestedRefundMethods"},
    # Mutation payloads (built as dicts by the mutation modules).
    "OrderCancelPayload": {"job", "jobResult", "orderCancelUserErrors", "userErrors"},
    "RefundCreatePayload": {"order", "refund", "userErrors"},
    **{
        f"Return{name}Payload": {"return", "userErrors"}
        for name in ("Request", "ApproveRequest", "DeclineRequest", "Create", "Process", "Close", "Cancel", "Reopen")
    },
    "WebhookSubscriptionCreatePayload": {"webhookSubscription", "userErrors"},
    "WebhookSubscriptionDeletePayload": {"deletedWebhookSubscriptionId", "userErrors"},
    "BulkOperationRunQueryPayload": {"bulkOperation", "userErrors"},
    "FulfillmentCreatePayload": {"fulfillment", "userErrors"},
    "FulfillmentOrderCancelPayload": {"fulfillmentOrder", "replacementFulfillmentOrder", "userErrors"},
    "FulfillmentOrderSubmitCancellationRequestPayload": {"fulfillmentOrder", "userErrors"},
    "FulfillmentOrderAcceptCancellationRequestPayload": {"fulfillmentOrder", "userErrors"},
    "FulfillmentOrderRejectCancellationRequestPayload": {"fulfillmentOrder", "userErrors"},
    "FulfillmentOrderAcceptFulfillmentRequestPayload": {"fulfillmentOrder", "userErrors"},
    "FulfillmentOrderRejectFulfillmentRequestPayload": {"fulfillmentOrder", "userErrors"},
    "FulfillmentOrderSubmitFulfillmentRequestPayload": {
        "originalFulfillmentOrder",
        "submittedFulfillmentOrder",
        "unsubmittedFulfillmentOrder",
        "userErrors",
    },
    "SuggestedOrderTransaction": {
        "kind",
        "gateway",
        "formattedGateway",
        "amountSet",
        "maximumRefundableSet",
        "parentTransaction",
    },
    "MailingAddress": {
        "firstName",
        "lastName",
        "name",
        "address1",
        "address2",
        "city",
        "province",
        "provinceCode",
        "country",
        "countryCode",
        "countryCodeV2",
        "zip",
        "phone",
        "company",
        # views/address.py: mailing_address_extras
        "id",
        "formatted",
        "formattedArea",
        "latitude",
        "longitude",
        "coordinatesValidated",
        "timeZone",
    },
    "FulfillmentOrderAssignedLocation": {
        "name",
        "location",
        "countryCode",
        "address1",
        "address2",
        "city",
        "province",
        "zip",
        "phone",
    },
}


class View:
    """A Shopify object. Subclasses set ``typename``; every public method is a field of that type."""

    typename: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.typename:
            fields = {name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))}
            REGISTRY[cls.typename] = fields - {"typename"}
            VIEW_CLASSES[cls.typename] = cls


def linked_view(typename: str, *args: Any) -> Any:
    """A view of ``typename`` built from ``args`` (the type's module is loaded: the root imports them all)."""
    view_class: Any = VIEW_CLASSES[typename]
    return view_class(*args)


def supported_fields(typename: str) -> set[str] | None:
    """Fields the sandbox answers on ``typename`` (None: the type is not supported at all)."""
    if typename in REGISTRY:
        return REGISTRY[typename]
    if typename in DICT_TYPES:
        return DICT_TYPES[typename]
    if typename.endswith("Connection"):
        return {"edges", "nodes", "pageInfo"}
    if typename.endswith("Edge"):
        return {"cursor", "node"}
    return None


def iso(moment: datetime | None) -> str | None:
    """DateTime as Shopify prints it: UTC with a ``Z`` (milliseconds kept when present)."""
    if moment is None:
        return None
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def amount(value: Decimal) -> str:
    return str(value.quantize(CENT))


def money(value: Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(value.quantize(CENT)), "currencyCode": currency}


def money_bag(pair: Pair, shop_currency: str, presentment_currency: str) -> dict[str, Any]:
    """Both halves of a ``MoneyBag`` (built inline: bulk exports render millions of these)."""
    return {
        "shopMoney": {"amount": str(pair[0].quantize(CENT)), "currencyCode": shop_currency},
        "presentmentMoney": {"amount": str(pair[1].quantize(CENT)), "currencyCode": presentment_currency},
    }


def id_cursor(numeric_id: int) -> str:
    raw = json.dumps({"last_id": numeric_id, "last_value": numeric_id}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def _cursor_id(cursor: str) -> int:
    try:
        return int(json.loads(base64.b64decode(cursor.encode(), validate=True))["last_id"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"Invalid cursor: {cursor!r}") from None


class Connection:
    """A Relay connection over an already-sliced list of (node, cursor or cursor key).

    Cursors given as ints are id keys encoded only when asked for (bulk exports never ask).
    """

    def __init__(self, items: Sequence[tuple[Any, str | int]], has_next: bool, has_previous: bool) -> None:
        self._items = items
        self._has_next = has_next
        self._has_previous = has_previous

    @staticmethod
    def _cursor(value: str | int) -> str:
        return id_cursor(value) if isinstance(value, int) else value

    def edges(self) -> list[dict[str, Any]]:
        return [{"cursor": self._cursor(cursor), "node": node} for node, cursor in self._items]

    def nodes(self) -> list[Any]:
        return [node for node, _ in self._items]

    def pageInfo(self) -> dict[str, Any]:
        return {
            "hasNextPage": self._has_next,
            "hasPreviousPage": self._has_previous,
            "startCursor": self._cursor(self._items[0][1]) if self._items else None,
            "endCursor": self._cursor(self._items[-1][1]) if self._items else None,
        }


def connection(
    items: Sequence[T],
    key: Callable[[T], int],
    render: Callable[[T], Any],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    reverse: bool | None = False,
) -> Connection:
    """Paginate a small in-memory list (line items, fulfillment orders ...) with id cursors."""
    ordered = list(reversed(items)) if reverse else list(items)
    if after:
        position = [key(item) for item in ordered].index(_cursor_id(after)) + 1 if ordered else 0
        ordered, had_before = ordered[position:], True
    else:
        had_before = False
    if before:
        position = [key(item) for item in ordered].index(_cursor_id(before)) if ordered else 0
        ordered, has_after = ordered[:position], True
    else:
        has_after = False
    if first is not None:
        has_after = has_after or len(ordered) > first
        ordered = ordered[:first]
    if last is not None:
        had_before = had_before or len(ordered) > last
        ordered = ordered[-last:] if last else []
    return Connection([(render(item), key(item)) for item in ordered], has_after, had_before)
