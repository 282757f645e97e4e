"""A Shopify client whose next mutation answers are lost after Shopify applied them (or before)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.shopify.client import ShopifyClient
from integrations.shopify.documents import Document
from integrations.shopify.errors import ShopifyOutcomeUnknown, ShopifyTransportError

MUTATIONS = {"OrderCancel", "RefundCreate", "FulfillmentOrderCancel", "FulfillmentOrderSubmitCancellationRequest"}


class LossyClient(ShopifyClient):
    """``lose_after``: mutations applied by Shopify whose answer is then lost (ShopifyOutcomeUnknown);
    ``lose_before``: mutations whose request never arrives (a timeout before Shopify saw it)."""

    lose_after = 0
    lose_before = 0

    def execute(
        self, document: str | Document, variables: Mapping[str, Any] | None = None, *, idempotent: bool = False
    ) -> dict[str, Any]:
        name = document if isinstance(document, str) else document.name
        if name in MUTATIONS and self.lose_before > 0:
            self.lose_before -= 1
            raise ShopifyOutcomeUnknown(name, ShopifyTransportError("timed out before Shopify saw it"))
        data = super().execute(document, variables, idempotent=idempotent)
        if name in MUTATIONS and self.lose_after > 0:
            self.lose_after -= 1
            raise ShopifyOutcomeUnknown(name, ShopifyTransportError("response lost after Shopify applied it"))
        return data
