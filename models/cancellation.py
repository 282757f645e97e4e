"""Cancellation (and return) requests and the Shopify action intents that carry them out."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, TimestampMixin
from models.types import JsonType, UTCDateTime


class IntentState(StrEnum):
    """``ShopifyIntent.state``: stored as these strings (the column and its CHECK are plain text)."""

    PENDING = "pending"  # committed, not claimed yet (or provably not applied: retried later)
    SUBMITTING = "submitting"  # claimed by a worker: Shopify may be seeing it right now
    UNKNOWN = "unknown"  # the verdict was lost: Shopify is read before any retry
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a person decides


def _sql_in(values: tuple[str, ...]) -> str:
    return "state IN ({})".format(", ".join(f"'{value}'" for value in values))


INTENT_STATES = tuple(IntentState)
LIVE_INTENT_STATES = (IntentState.PENDING, IntentState.SUBMITTING, IntentState.UNKNOWN)
_LIVE_SQL = _sql_in(LIVE_INTENT_STATES)
#: A cancellation request in one of these states is in progress: at most one per order (partial unique
#: index below). ``worker.cancellation.states.OPEN`` is built from this tuple: a state counts as open, for
#: the service's check and for the database, only once it is listed here.
OPEN_REQUEST_STATES = (
    "needs_approval", "requested", "supplier_cancel_requested", "supplier_refused", "supplier_confirmed",
    "supplier_shipped", "shopify_action", "needs_operator",
)  # fmt: skip
_OPEN_REQUEST_SQL = _sql_in(OPEN_REQUEST_STATES)
OPEN_REQUEST_INDEX = "uq_cancellation_requests_open_order"


class CancellationRequest(IdMixin, TimestampMixin, Base):
    """A customer's wish to cancel (or return) a whole order or some of its line items.

    ``policy_decision`` is the policy module's decision as it was when taken, with ``policy_version``
    (the policy file's content hash) so it can be replayed. ``state_history`` mirrors the timeline.
    At most one request per order is open (``OPEN_REQUEST_STATES``), enforced by a partial unique index.
    """

    __tablename__ = "cancellation_requests"
    __table_args__ = (
        Index("ix_cancellation_requests_order_state", "order_id", "state"),
        Index(
            OPEN_REQUEST_INDEX,
            "order_id",
            unique=True,
            postgresql_where=text(_OPEN_REQUEST_SQL),
            sqlite_where=text(_OPEN_REQUEST_SQL),
        ),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), default="cancel", nullable=False)  # cancel | return
    items: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)  # [] = all
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(40), default="requested", nullable=False)
    state_history: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list, nullable=False)
    policy_decision: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32), default="operator", nullable=False)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ShopifyIntent(IdMixin, TimestampMixin, Base):
    """One external Shopify mutation we mean to perform, persisted before the first attempt.

    The idempotency key is created with the row and reused on every retry: if a mutation succeeds but
    its response (or our commit) is lost, the retry returns Shopify's original result instead of moving
    money twice. A timeout marks the intent ``unknown``: the next attempt reads Shopify first.
    At most one live intent per (order, kind) is enforced by a partial unique index.
    """

    __tablename__ = "shopify_intents"
    __table_args__ = (
        Index(
            "uq_shopify_intents_live_order_kind",
            "order_id",
            "kind",
            unique=True,
            postgresql_where=text(_LIVE_SQL),
            sqlite_where=text(_LIVE_SQL),
        ),
        Index("ix_shopify_intents_state_next", "state", "next_attempt_at"),
        CheckConstraint(_sql_in(INTENT_STATES), name="state_valid"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint("dispatches >= 0", name="dispatches_non_negative"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    cancellation_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("cancellation_requests.id", ondelete="SET NULL")
    )
    #: The return this intent carries out (the returns workflow's return_* kinds), else NULL.
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"))
    # ``worker.cancellation.intents.IntentKind``: order_cancel | refund_create | fulfillment_order_cancel |
    # fulfillment_order_cancellation_request | return_create | return_approve | return_decline |
    # return_process | return_close | dispute_evidence_update
    kind: Mapped[str] = mapped_column(String(48), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=IntentState.PENDING.value, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Messages the sweeper published for it; each holds a lease (``next_attempt_at``) that, once expired
    # with the intent still live, means the message was lost and another is sent (see the sweeper).
    dispatches: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    job_gid: Mapped[str | None] = mapped_column(String(100))
    result_ids: Mapped[list[str]] = mapped_column(JsonType, default=list, nullable=False)
