"""The ``Mutation`` root: each supported mutation delegates to its module (one concern per module)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandboxes.shopify.executor import Info, with_info
from sandboxes.shopify.views.base import View

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox


class MutationRoot(View):
    typename = "Mutation"

    def __init__(self, sandbox: ShopifySandbox) -> None:
        self._sandbox = sandbox

    def webhookSubscriptionCreate(self, topic: str, webhookSubscription: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.shopify.mutations.subscriptions import create_subscription

        return create_subscription(self._sandbox, topic, webhookSubscription)

    def webhookSubscriptionDelete(self, id: str) -> dict[str, Any]:
        from sandboxes.shopify.mutations.subscriptions import delete_subscription

        return delete_subscription(self._sandbox, id)

    def orderCancel(self, **arguments: Any) -> dict[str, Any]:
        from sandboxes.shopify.mutations.cancel import order_cancel

        return order_cancel(self._sandbox, **arguments)

    @with_info
    def refundCreate(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.shopify.mutations.refund import refund_create

        return refund_create(self._sandbox, info, input)

    # Partial requests (fulfillmentOrderLineItems / lineItems) are not declared: the executor refuses them
    # as "not supported by the sandbox" instead of silently submitting everything.
    def fulfillmentOrderSubmitFulfillmentRequest(
        self, id: str, message: str | None = None, notifyCustomer: bool | None = None
    ) -> dict[str, Any]:
        from sandboxes.shopify.mutations.fulfillment import submit_fulfillment_request

        return submit_fulfillment_request(self._sandbox, id, message)

    def fulfillmentOrderAcceptFulfillmentRequest(
        self, id: str, message: str | None = None, estimatedShippedAt: str | None = None
    ) -> dict[str, Any]:
        from sandboxes.shopify.mutations.fulfillment import accept_fulfillment_request

        return accept_fulfillment_request(self._sandbox, id, message)

    def fulfillmentOrderRejectFulfillmentRequest(
        self, id: str, message: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        from sandboxes.shopify.mutations.fulfillment import reject_fulfillment_request

        return reject_fulfillment_request(self._sandbox, id, message)

    def fulfillmentOrderCancel(self, id: str) -> dict[str, Any]:
        from sandboxes.shopify.mutations.fulfillment import cancel_fulfillment_order

        return cancel_fulfillment_order(self._sandbox, id)

    def fulfillmentOrderSubmitCancellationRequest(self, id: str, message: str | None = None) -> dict[str, Any]:
        from sandboxes.shopify.mutations.fulfillment import submit_cancellation_request

        return submit_cancellation_request(self._sandbox, id, message)

    def fulfillmentOrderAcceptCancellationRequest(self, id: str, message: str | None = None) -> dict[str, Any]:
        from sandboxes.shopify.mutations.fulfillment import answer_cancellation_request

        return answer_cancellation_request(self._sandbox, id, accept=True, message=message)

    def fulfillmentOrderRejectCancellationRequest(self, id: str, message: str | None = None) -> dict[str, Any]:
        from sandboxes.shopify.mutations.fulfillment import answer_cancellation_request

        return answer_cancellation_request(self._sandbox, id, accept=False, message=message)

    def fulfillmentCreate(self, fulfillment: dict[str, Any], message: str | None = None) -> dict[str, Any]:
        from sandboxes.shopify.mutations.fulfillment import create_fulfillment

        return create_fulfillment(self._sandbox, fulfillment)

    def disputeEvidenceUpdate(self, id: str, input: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.shopify.mutations.disputes import dispute_evidence_update

        return dispute_evidence_update(self._sandbox, id, input)

    def returnRequest(self, input: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.shopify.mutations import returns

        return returns.create(self._sandbox, "returnRequest", input, "input", "REQUESTED")

    def returnCreate(self, returnInput: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.shopify.mutations import returns

        return returns.create(self._sandbox, "returnCreate", returnInput, "returnInput", "OPEN")

    def returnApproveRequest(self, input: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.shopify.mutations import returns

        return returns.approve(self._sandbox, input)

    def returnDeclineRequest(self, input: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.shopify.mutations import returns

        return returns.decline(self._sandbox, input)

    def returnProcess(self, input: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.shopify.mutations import returns

        return returns.process(self._sandbox, input)

    def returnClose(self, id: str) -> dict[str, Any]:
        from sandboxes.shopify.mutations import returns

        return returns.close(self._sandbox, id)

    def returnReopen(self, id: str) -> dict[str, Any]:
        from sandboxes.shopify.mutations import returns

        return returns.reopen(self._sandbox, id)

    def returnCancel(self, id: str, notifyCustomer: bool | None = None) -> dict[str, Any]:
        from sandboxes.shopify.mutations import returns

        return returns.cancel(self._sandbox, id)

    def bulkOperationRunQuery(self, query: str, groupObjects: bool = False) -> dict[str, Any]:
        from sandboxes.shopify.bulk import run_bulk_query

        return run_bulk_query(self._sandbox, query, groupObjects)
