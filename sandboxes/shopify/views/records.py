"""Views of shop records: Job, OrderCancelJobResult, BulkOperation, WebhookSubscription."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandboxes.shopify import ids
from sandboxes.shopify.model import parse_gid
from sandboxes.shopify.state import BulkOperation, Job, Subscription
from sandboxes.shopify.views.base import Connection, View, connection, iso, linked_view

if TYPE_CHECKING:
    from sandboxes.shopify.state import ShopState


class _JobBase(View):
    """What ``Job`` and ``OrderCancelJobResult`` share (``JobResult``: id, done)."""

    def __init__(self, state: ShopState, job: Job) -> None:
        self._state = state
        self._job = job

    def id(self) -> str:
        return self._job.id

    def done(self) -> bool:
        return self._job.done


class JobView(_JobBase):
    typename = "Job"

    def query(self) -> Any:
        return linked_view("QueryRoot", self._state)


class OrderCancelJobResultView(_JobBase):
    typename = "OrderCancelJobResult"

    def status(self) -> str:
        return "SUCCEEDED" if self.done() else "STARTED"

    def errors(self) -> list[dict[str, Any]]:
        return []

    def order(self) -> Any:
        if self._job.order_id is None:
            return None
        order = self._state.get(ids.order_index(self._job.order_id))
        return linked_view("Order", self._state, order) if order is not None else None


class BulkOperationView(View):
    typename = "BulkOperation"

    def __init__(self, operation: BulkOperation) -> None:
        self._op = operation

    def id(self) -> str:
        return self._op.id

    def status(self) -> str:
        return self._op.status

    def type(self) -> str:
        return self._op.type

    def query(self) -> str:
        return self._op.query

    def createdAt(self) -> str | None:
        return iso(self._op.created_at)

    def completedAt(self) -> str | None:
        return iso(self._op.completed_at)

    def objectCount(self) -> str:
        return str(self._op.object_count)

    def rootObjectCount(self) -> str:
        return str(self._op.root_object_count)

    def fileSize(self) -> str | None:
        return str(self._op.file_size) if self._op.file_size is not None else None

    def url(self) -> str | None:
        from sandboxes.shopify.requestctx import request_base

        base = request_base()
        if self._op.url is None or base is None:
            return self._op.url
        return base + self._op.url[self._op.url.index("/_sandbox/") :]

    def partialDataUrl(self) -> str | None:
        return None

    def errorCode(self) -> str | None:
        return self._op.error_code


class WebhookSubscriptionView(View):
    typename = "WebhookSubscription"

    def __init__(self, state: ShopState, subscription: Subscription) -> None:
        self._state = state
        self._sub = subscription

    def id(self) -> str:
        return f"gid://shopify/WebhookSubscription/{self._sub.id}"

    def legacyResourceId(self) -> str:
        return str(self._sub.id)

    def topic(self) -> str:
        return self._sub.topic

    def uri(self) -> str:
        return self._sub.uri

    def callbackUrl(self) -> str:
        return self._sub.uri

    def endpoint(self) -> dict[str, Any]:
        return {"__typename": "WebhookHttpEndpoint", "callbackUrl": self._sub.uri}

    def format(self) -> str:
        return self._sub.format

    def filter(self) -> str | None:
        return self._sub.filter

    def includeFields(self) -> list[str]:
        return list(self._sub.include_fields)

    def metafieldNamespaces(self) -> list[str]:
        return []

    def createdAt(self) -> str | None:
        return iso(self._sub.created_at)

    def updatedAt(self) -> str | None:
        return iso(self._sub.updated_at)

    def apiVersion(self) -> dict[str, Any]:
        version = self._state.config.api_version
        return {"handle": version, "displayName": version, "supported": True}


def job_view(state: ShopState, value: str) -> JobView | None:
    job = state.jobs.get(value)
    return JobView(state, job) if job else None


def bulk_operation_view(state: ShopState, value: str) -> BulkOperationView | None:
    operation = state.bulk_operations.get(value)
    return BulkOperationView(operation) if operation else None


def current_bulk_operation(state: ShopState, kind: str) -> BulkOperationView | None:
    mine = [op for op in state.bulk_operations.values() if op.type == kind]
    return BulkOperationView(mine[-1]) if mine else None


def webhook_subscriptions(state: ShopState, topics: list[str] | None, uri: str | None, **page: Any) -> Connection:
    chosen = [
        sub for sub in state.subscriptions.values() if (not topics or sub.topic in topics) and uri in (None, sub.uri)
    ]

    def render(sub: Subscription) -> WebhookSubscriptionView:
        return WebhookSubscriptionView(state, sub)

    return connection(chosen, lambda sub: sub.id, render, **page)


def record_node(state: ShopState, kind: str, value: str) -> View | None:
    if kind == "Job":
        return job_view(state, value)
    if kind == "BulkOperation":
        return bulk_operation_view(state, value)
    numeric = parse_gid(value, "WebhookSubscription")
    sub = state.subscriptions.get(numeric) if numeric is not None else None
    return WebhookSubscriptionView(state, sub) if sub else None
