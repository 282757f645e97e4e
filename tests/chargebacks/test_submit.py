"""Submitting evidence exactly once, across double submits and lost answers; the outcome in exposure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Chargeback, Shop, ShopifyIntent
from models.types import utcnow
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.chargebacks.conftest import open_and_read
from worker.cancellation import execution, sweeper
from worker.cancellation.exposure import exposures, totals
from worker.chargebacks import submission, sync
from worker.db import get_engine, session_scope
from worker.errors import RefusedError
from worker.observability.ledger import _exposure
from worker.settings import get_settings


def _refunded_dispute(sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop) -> tuple[str, Chargeback]:
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    return gid, open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED")


def _submit(row: Chargeback, actor: str = "operator:test") -> int:
    with session_scope() as session:
        return submission.request_submission(session, session.get_one(Chargeback, row.id), actor=actor).id


def _state(intent_id: int) -> str:
    with session_scope() as session:
        return session.get_one(ShopifyIntent, intent_id).state


def test_submitting_twice_sends_once(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid, row = _refunded_dispute(sandbox, client, shop)
    first, second = _submit(row), _submit(row)
    assert first == second  # one live submission per dispute
    assert published.take().count((submission.SUBMIT_TASK, [first])) == 1
    assert execution.execute_intent(session_scope, first, client) == "succeeded"
    assert execution.execute_intent(session_scope, first, client) == "succeeded"  # a redelivered task: no-op
    assert _submit(row) == first  # after success: still the same intent, nothing new
    assert sandbox.control.mutation_counts(gid) == {"disputeEvidenceUpdate": 1}
    sent = sandbox.control.dispute(row.dispute_gid)
    assert sent["status"] == "under_review"
    assert sent["submissions"][0]["submitted"] is True
    assert "gid://shopify/Refund/" in sent["evidence"]["uncategorizedText"]
    assert sent["evidence"]["refundPolicyDisclosure"].startswith("Policy: built-in default policy (version ")
    assert sync.refresh(session_scope, shop.id, row.dispute_gid, client) == "UNDER_REVIEW"
    with session_scope() as session:
        fresh = session.get_one(Chargeback, row.id)
        assert fresh.evidence_sent_on is not None
        assert fresh.submitted_by == "operator:test"
        assert fresh.pack is not None


def test_a_lost_answer_is_read_before_any_retry_and_adopted(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """Shopify applies disputeEvidenceUpdate, the connection is cut before we hear: the next attempt
    (the sweeper's) reads the dispute's evidenceSentOn and adopts it instead of sending again."""
    gid, row = _refunded_dispute(sandbox, client, shop)
    intent_id = _submit(row)
    sandbox.control.fail_next("drop", field="disputeEvidenceUpdate")
    assert execution.execute_intent(session_scope, intent_id, client) == "unknown"
    assert sandbox.control.applied_counts(gid) == {"disputeEvidenceUpdate": 1}  # it did land
    published.take()
    with session_scope() as session:
        result = sweeper.sweep(session, utcnow() + dt.timedelta(minutes=5))
    assert result.retried == 1
    assert ("cancellation.execute_intent", [intent_id]) in published.take()
    assert execution.execute_intent(session_scope, intent_id, client) == "succeeded"
    assert sandbox.control.mutation_counts(gid) == {"disputeEvidenceUpdate": 1}  # sent once, never resent
    with session_scope() as session:
        assert session.get_one(ShopifyIntent, intent_id).result_ids == [row.dispute_gid]


def test_a_crash_after_the_claim_before_sending_still_sends_once(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """A worker died holding the intent ``submitting`` (before or after Shopify answered): the redelivered
    task reads Shopify first; nothing there → it sends; something there → it adopts."""
    gid, row = _refunded_dispute(sandbox, client, shop)
    intent_id = _submit(row)
    with session_scope() as session:
        intent = session.get_one(ShopifyIntent, intent_id)
        intent.state, intent.attempts, intent.submitted_at = "submitting", 1, utcnow()
    assert execution.execute_intent(session_scope, intent_id, client, reclaim_stale=True) == "succeeded"
    assert sandbox.control.mutation_counts(gid) == {"disputeEvidenceUpdate": 1}
    # And the same crash *after* Shopify applied it: the read finds evidenceSentOn and adopts.
    with session_scope() as session:
        intent = session.get_one(ShopifyIntent, intent_id)
        intent.state, intent.completed_at = "submitting", None
    assert execution.execute_intent(session_scope, intent_id, client, reclaim_stale=True) == "succeeded"
    assert sandbox.control.mutation_counts(gid) == {"disputeEvidenceUpdate": 1}


def test_nothing_is_sent_for_a_decided_dispute(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid, row = _refunded_dispute(sandbox, client, shop)
    sandbox.control.decide_dispute(row.dispute_gid, "LOST")
    assert sync.refresh(session_scope, shop.id, row.dispute_gid, client) == "LOST"
    with pytest.raises(RefusedError, match="the dispute is LOST"):
        _submit(row)
    assert sandbox.control.mutation_counts(gid) == {}


def test_a_lost_dispute_leaves_amount_and_fee_in_exposure_a_won_one_clears_it(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    _, lost = _refunded_dispute(sandbox, client, shop)
    _, won = _refunded_dispute(sandbox, client, shop)
    expected = lost.amount + won.amount + Decimal("30")
    with session_scope() as session:
        before = {r.order_id: r for r in exposures(session)}
        assert before[lost.order_id].chargebacks == lost.amount + Decimal("15")  # open: the bank took it back
        assert sum((r.chargebacks for r in before.values()), Decimal(0)) == expected
    for row, outcome in ((lost, "LOST"), (won, "WON")):
        sandbox.control.decide_dispute(row.dispute_gid, outcome)
        assert sync.refresh(session_scope, shop.id, row.dispute_gid, client) == outcome
    with session_scope() as session:
        after = {r.order_id: r for r in exposures(session)}
        rows = list(after.values())
    assert after[lost.order_id].chargebacks == lost.amount + Decimal("15")
    assert after[won.order_id].chargebacks == Decimal(0)
    to_recover = {r.order_id: r.to_recover for r in rows}
    assert totals(rows)["USD"] == sum(to_recover.values(), Decimal(0)) + lost.amount + Decimal("15")
    with get_engine().connect() as conn:  # the dropsync_exposure gauge reads the same
        assert _exposure(conn)["USD"] == totals(rows)["USD"]


def test_auto_submit_only_for_the_listed_reasons_and_a_complete_pack(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("DROPSYNC_CHARGEBACK_AUTO_SUBMIT", "credit_not_processed, PRODUCT_NOT_RECEIVED")
    get_settings.cache_clear()
    try:
        _, listed = _refunded_dispute(sandbox, client, shop)  # read through sync: submitted without a person
        gid = sandbox.control.create_order(status="partially_refunded")
        mirror(client, shop.id, gid)
        other = open_and_read(sandbox, client, shop.id, gid, "FRAUDULENT")  # not listed: waits for a person
        unshipped = sandbox.control.create_order(status="paid")
        mirror(client, shop.id, unshipped)
        incomplete = open_and_read(sandbox, client, shop.id, unshipped, "PRODUCT_NOT_RECEIVED")
    finally:
        get_settings.cache_clear()
    with session_scope() as session:
        intents = session.scalars(select(ShopifyIntent).where(ShopifyIntent.kind == "dispute_evidence_update")).all()
        assert [(i.params["dispute_gid"], i.params["chargeback_id"]) for i in intents] == [
            (listed.dispute_gid, listed.id)
        ]
        assert session.get_one(Chargeback, listed.id).submitted_by == "auto-submit"
    assert other.id != incomplete.id
