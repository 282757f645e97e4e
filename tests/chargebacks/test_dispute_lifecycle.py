"""Disputes over their life: two disputes on one order, an inquiry the bank turns into a chargeback, and
the evidence deadlines while Shopify cannot be read (the sandbox, the ledger and the executor, for real)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Alert, Chargeback, Shop, ShopifyIntent
from models.types import utcnow
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.chargebacks.conftest import open_and_read
from worker.cancellation import execution
from worker.chargebacks import mirror as mirror_module
from worker.chargebacks import submission, sync, tasks
from worker.db import session_scope
from worker.errors import RefusedError


def _open_alert_kinds(chargeback_id: int) -> list[str]:
    with session_scope() as session:
        query = select(Alert.kind).where(
            Alert.resolved_at.is_(None), Alert.dedupe_key.like(f"chargeback:%:{chargeback_id}:%")
        )
        return sorted(session.scalars(query))


def _escalate(sandbox: ShopifySandbox, dispute_gid: str, **body: object) -> dict[str, Any]:
    """The bank escalates an inquiry into a chargeback, through the sandbox's control API."""
    answer = httpx.post(f"{sandbox.base_url}/_sandbox/disputes/{dispute_gid}/escalate", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    escalated: dict[str, Any] = answer.json()
    return escalated


# --- two disputes of one order: each submits its own evidence, one at a time --------------------------------


def test_the_second_dispute_of_an_order_waits_for_the_first_submission_then_sends_its_own(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    first = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED", amount="1.00")
    second = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED", amount="2.00")

    with session_scope() as session:
        a = submission.request_submission(session, session.get_one(Chargeback, first.id), actor="operator:a").id
    busy = rf"being submitted \(intent {a}, pending\).*once it is done"
    # while the first is still live (queued, not yet run)
    with pytest.raises(RefusedError, match=busy), session_scope() as session:
        submission.request_submission(session, session.get_one(Chargeback, second.id), actor="operator:b")
    with session_scope() as session:  # the refusal wrote nothing: no pack, no author, no intent adopted
        untouched = session.get_one(Chargeback, second.id)
        assert (untouched.pack, untouched.submitted_by) == (None, None)
        assert submission.submissions(session, untouched) == []

    assert execution.execute_intent(session_scope, a, client) == "succeeded"
    with session_scope() as session:
        b = submission.request_submission(session, session.get_one(Chargeback, second.id), actor="operator:b").id
    assert b != a
    assert execution.execute_intent(session_scope, b, client) == "succeeded"
    with session_scope() as session:
        assert session.get_one(ShopifyIntent, b).params["dispute_gid"] == second.dispute_gid
    assert sandbox.control.dispute(first.dispute_gid)["evidence_sent_on"] is not None
    assert sandbox.control.dispute(second.dispute_gid)["evidence_sent_on"] is not None


# --- an inquiry turned into a chargeback: its deadline, its status, its own evidence ------------------------


def test_an_inquiry_turned_chargeback_takes_the_chargebacks_evidence_deadline(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    row = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED", type="INQUIRY",
                        evidence_due_in_days=4)  # fmt: skip
    # The bank escalates: the same dispute becomes a chargeback with a new deadline.
    new_due = sandbox.state.clock.now() + dt.timedelta(days=20)
    _escalate(sandbox, row.dispute_gid, evidence_due_by=new_due.isoformat())
    assert sync.refresh(session_scope, shop.id, row.dispute_gid, client) == "NEEDS_RESPONSE"
    with session_scope() as session:
        fresh = session.get_one(Chargeback, row.id)
        assert fresh.dispute_type == "CHARGEBACK"
        assert fresh.evidence_due_by is not None
        assert abs(fresh.evidence_due_by - new_due) < dt.timedelta(seconds=1), (
            f"ledger keeps the inquiry's deadline {fresh.evidence_due_by}, Shopify says {new_due}"
        )


def test_an_answered_inquiry_turned_chargeback_needs_a_response_again(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """The merchant answered the inquiry (UNDER_REVIEW); the bank escalates it anyway: the chargeback needs a
    response (NEEDS_RESPONSE, a new deadline). The monotonic merge keeps UNDER_REVIEW: no alert, submit refused."""
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    row = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED", type="INQUIRY")
    with session_scope() as session:
        intent_id = submission.request_submission(session, session.get_one(Chargeback, row.id), actor="op").id
    assert execution.execute_intent(session_scope, intent_id, client) == "succeeded"
    assert sync.refresh(session_scope, shop.id, row.dispute_gid, client) == "UNDER_REVIEW"
    _escalate(sandbox, row.dispute_gid, evidence_due_by=(sandbox.state.clock.now() + dt.timedelta(days=20)).isoformat())
    assert sync.refresh(session_scope, shop.id, row.dispute_gid, client) == "NEEDS_RESPONSE"
    with session_scope() as session:
        fresh = session.get_one(Chargeback, row.id)
        assert (fresh.dispute_type, fresh.status) == ("CHARGEBACK", "NEEDS_RESPONSE")
    assert _open_alert_kinds(row.id) == ["chargeback_needs_response"]

    # The inquiry's last webhook, late: it moves nothing of the chargeback's.
    with session_scope() as session:
        late = mirror_module.DisputeFacts(
            dispute_gid=row.dispute_gid, legacy_id=None, order_gid=None, dispute_type="INQUIRY",
            reason="CREDIT_NOT_PROCESSED", network_reason_code=None, status="UNDER_REVIEW", amount=fresh.amount,
            currency=fresh.currency, initiated_at=None, evidence_due_by=None, evidence_sent_on=utcnow(),
            finalized_on=None,
        )  # fmt: skip
        kept = mirror_module.apply_dispute(session, shop.id, late, actor="shopify:webhook")
        assert (kept.dispute_type, kept.status, kept.evidence_sent_on) == ("CHARGEBACK", "NEEDS_RESPONSE", None)

    # The chargeback is answered with a submission of its own (the inquiry's does not count for it).
    with session_scope() as session:
        again = submission.request_submission(session, session.get_one(Chargeback, row.id), actor="op").id
    assert again != intent_id
    assert execution.execute_intent(session_scope, again, client) == "succeeded"
    assert sandbox.control.dispute(row.dispute_gid)["evidence_sent_on"] is not None


# --- the evidence deadlines escalate from the ledger and the clock, whether Shopify can be read or not ------


def test_a_near_evidence_deadline_alerts_even_while_shopify_cannot_be_read(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    row = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED", evidence_due_in_days=10)
    assert _open_alert_kinds(row.id) == ["chargeback_needs_response"]
    assert row.evidence_due_by is not None

    with session_scope() as session:  # Shopify refuses the shop's token from now on (401)
        session.get_one(Shop, shop.id).access_token = "shpat_revoked"
    later = row.evidence_due_by - dt.timedelta(days=1)  # nine days on: the deadline is a day away
    assert later > utcnow()
    monkeypatch.setattr(tasks, "utcnow", lambda: later)
    with pytest.raises(tasks.ShopsFailedError):
        tasks.sync_all()  # the beat, every 5 minutes
    assert _open_alert_kinds(row.id) == ["chargeback_evidence_due_near"]
