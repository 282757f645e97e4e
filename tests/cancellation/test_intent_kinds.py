"""The intent vocabulary: states and kinds are enums whose values are the strings stored in
``shopify_intents`` (no migration), and every kind has exactly one performer."""

from __future__ import annotations

import pytest

from models import INTENT_STATES, LIVE_INTENT_STATES, IntentState, ShopifyIntent
from worker.cancellation.actions import PERFORMERS, existing_effect, perform
from worker.cancellation.intents import IntentKind


def test_states_and_kinds_keep_their_stored_strings() -> None:
    assert [str(s) for s in INTENT_STATES] == ["pending", "submitting", "unknown", "succeeded", "failed"]
    assert LIVE_INTENT_STATES == ("pending", "submitting", "unknown")
    assert IntentState("succeeded") is IntentState.SUCCEEDED
    assert {str(k) for k in IntentKind} == {
        "order_cancel", "refund_create", "fulfillment_order_cancel", "fulfillment_order_cancellation_request",
        "return_create", "return_approve", "return_decline", "return_process", "return_close",
        "dispute_evidence_update",
    }  # fmt: skip
    assert f"{IntentKind.REFUND_CREATE}" == "refund_create"  # keys, messages and JSON carry the value


def test_every_kind_has_a_performer_and_an_unknown_kind_is_refused() -> None:
    assert set(PERFORMERS) == set(IntentKind)
    stray = ShopifyIntent(kind="order_refund", params={}, idempotency_key="k", state="pending")
    with pytest.raises(ValueError, match="unknown intent kind 'order_refund'"):
        perform(None, stray)  # type: ignore[arg-type]  # refused before any client is used
    with pytest.raises(ValueError, match="unknown intent kind"):
        existing_effect(None, stray)  # type: ignore[arg-type]
