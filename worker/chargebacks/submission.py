"""Submitting a chargeback's evidence pack: ``disputeEvidenceUpdate`` with ``submitEvidence: true``, as a
persisted Shopify intent (``shopify_intents``, kind ``dispute_evidence_update``) run by the same executor,
sweeper and outbox as every other Shopify mutation (``worker.cancellation.execution``).

The mutation has **no idempotency key**, and a second submission is refused by Shopify once the first
one landed. So the executor never resends blindly: an intent whose earlier attempt may have run (a lost
answer, a worker killed between Shopify's answer and our commit) is *read first* — ``dispute(id)`` — and
an ``evidenceSentOn`` (or ``submitted`` evidence) there is adopted as this intent's success. A refusal
(``EVIDENCE_ALREADY_ACCEPTED``) is also looked at before it counts as a failure. At most one live
submission per order (the intents' partial unique index); one succeeded submission per dispute.

Nothing is submitted without a person's word (``dropsync chargebacks submit``), unless the store lists the
dispute's reason in ``DROPSYNC_CHARGEBACK_AUTO_SUBMIT`` and the recommendation is to fight.
"""

from __future__ import annotations

import datetime as dt
import shlex
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import ShopifyGraphQLError, raise_for_user_errors
from models import LIVE_INTENT_STATES, Chargeback, IntentState, Order, ShopifyIntent
from models.types import utcnow
from worker import outbox
from worker.cancellation import intents as ik
from worker.cancellation.intents import IntentKind
from worker.chargebacks.evidence import Pack, build_pack
from worker.errors import RefusedError
from worker.timeline import record_event

SUBMIT_TASK = "chargebacks.submit"
#: The task that created the intent runs it at once; the sweeper only picks it up if that run dies.
SWEEPER_GRACE = dt.timedelta(seconds=30)


def submissions(session: Session, row: Chargeback) -> list[ShopifyIntent]:
    """Every submission intent of this dispute in its current phase, oldest first (an inquiry's answer does
    not answer the chargeback it became; intents from before the phase was recorded count for both)."""
    intents = session.scalars(
        select(ShopifyIntent)
        .where(ShopifyIntent.order_id == row.order_id, ShopifyIntent.kind == IntentKind.DISPUTE_EVIDENCE_UPDATE)
        .order_by(ShopifyIntent.id)
    )
    return [
        i
        for i in intents
        if i.params.get("dispute_gid") == row.dispute_gid
        and i.params.get("dispute_type", row.dispute_type) == row.dispute_type
    ]


def live_submission(session: Session, row: Chargeback) -> ShopifyIntent | None:
    """The submission already live or done for this dispute (the latest), if any."""
    done = [i for i in submissions(session, row) if i.state in (*LIVE_INTENT_STATES, IntentState.SUCCEEDED)]
    return done[-1] if done else None


def other_dispute_in_flight(session: Session, row: Chargeback) -> ShopifyIntent | None:
    """The live submission of another dispute of the same order: an order has one live intent per kind."""
    live = ik.live_intent(session, row.order_id, IntentKind.DISPUTE_EVIDENCE_UPDATE) if row.order_id else None
    return live if live is not None and live.params.get("dispute_gid") != row.dispute_gid else None


def _refuse_while_busy(busy: ShopifyIntent) -> None:
    other = str(busy.params.get("dispute_gid", "?")).rsplit("/", 1)[-1]
    raise RefusedError(
        f"the evidence of dispute {other} of this order is being submitted (intent {busy.id}, {busy.state}); "
        "dropsync sends one submission per order at a time: submit this one again once it is done"
    )


def check_submittable(row: Chargeback) -> None:
    """Refuse (RefusedError) a dispute Shopify would not take evidence for, before anyone is asked."""
    if row.order_id is None:
        raise RefusedError("the order of this dispute is not mirrored yet: sync it first (dropsync sync reconcile)")
    if row.evidence_sent_on is not None or row.evidence_submitted:
        raise RefusedError(f"evidence was already sent on {row.evidence_sent_on or 'Shopify'}: nothing to submit")
    if row.status != "NEEDS_RESPONSE":
        raise RefusedError(f"the dispute is {row.status}: Shopify no longer takes evidence")
    if row.evidence_due_by is not None and row.evidence_due_by <= utcnow():
        raise RefusedError(f"evidence was due by {row.evidence_due_by:%Y-%m-%d %H:%M} UTC: Shopify no longer takes it")


def request_submission(session: Session, row: Chargeback, *, actor: str, pack: Pack | None = None) -> ShopifyIntent:
    """Persist the intent to submit ``row``'s pack and queue its execution (flushes only; the caller
    commits — the intent is durable before Shopify ever sees it). A submission already live or done for
    this dispute is returned as it is, never doubled."""
    live = live_submission(session, row)
    if live is not None:
        return live
    check_submittable(row)
    if (busy := other_dispute_in_flight(session, row)) is not None:
        _refuse_while_busy(busy)
    pack = pack or build_pack(session, row)
    order = session.get_one(Order, row.order_id)
    if not pack.input:
        raise RefusedError(
            "the evidence pack is empty: nothing the ledger holds supports this dispute; add what you know "
            f'with dropsync chargebacks evidence {shlex.quote(order.name)} --text "…", or accept it'
        )
    row.pack, row.pack_built_at, row.submitted_by = pack.to_dict(), utcnow(), actor
    params: dict[str, Any] = {
        "order_gid": order.shopify_gid, "dispute_gid": row.dispute_gid, "evidence_gid": row.evidence_gid,
        "chargeback_id": row.id, "dispute_type": row.dispute_type, "input": {**pack.input, "submitEvidence": True},
    }  # fmt: skip
    intent, _ = ik.create_intent(
        session, shop_id=row.shop_id, order_id=order.id, kind=IntentKind.DISPUTE_EVIDENCE_UPDATE, params=params,
        request_id=None, actor=actor,
    )  # fmt: skip
    if intent.params.get("dispute_gid") != row.dispute_gid:  # another dispute's, created meanwhile: roll back
        _refuse_while_busy(intent)
    if intent.attempts == 0:
        intent.next_attempt_at = utcnow() + SWEEPER_GRACE
    outbox.enqueue(session, SUBMIT_TASK, [intent.id], dedupe_key=f"{SUBMIT_TASK}:{intent.id}")
    record_event(
        session, shop_id=row.shop_id, order_id=order.id, kind="chargeback.submission_requested", actor=actor,
        message=f"evidence pack for dispute {row.number} ({row.reason}) to be submitted "
        f"to Shopify (intent {intent.id}): {', '.join(sorted(pack.input))}",
        data={"chargeback_id": row.id, "intent_id": intent.id, "fields": sorted(pack.input)},
    )  # fmt: skip
    return intent


# --- what the executor calls (worker.cancellation.actions dispatches this kind here) ----------------------


def _read(client: ShopifyClient, dispute_gid: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = client.execute("DisputeById", {"id": dispute_gid})["dispute"]
    return node


def perform(client: ShopifyClient, intent: ShopifyIntent) -> list[str]:
    """Send the stored input once. Raises the client's errors (a lost answer: ``ShopifyOutcomeUnknown``)."""
    params = intent.params
    evidence_gid = params.get("evidence_gid")
    if not evidence_gid:
        node = _read(client, params["dispute_gid"])
        evidence_gid = ((node or {}).get("disputeEvidence") or {}).get("id")
        if not evidence_gid:  # nothing was sent: an ordinary "not applied", retried later
            raise ShopifyGraphQLError(
                [{"message": f"no evidence for {params['dispute_gid']}"}], operation="DisputeById"
            )
    data = client.execute("DisputeEvidenceUpdate", {"id": evidence_gid, "input": params["input"]})
    raise_for_user_errors(data["disputeEvidenceUpdate"], operation="disputeEvidenceUpdate")
    return [params["dispute_gid"]]


def existing_effect(client: ShopifyClient, intent: ShopifyIntent) -> list[str] | None:
    """The dispute already shows evidence sent (an earlier attempt landed): adopt it, never resend."""
    node = _read(client, intent.params["dispute_gid"])
    if node is None:
        return None
    if node.get("evidenceSentOn") or (node.get("disputeEvidence") or {}).get("submitted"):
        return [str(node["id"])]
    return None


def auto_submit_reasons() -> frozenset[str]:
    from worker.settings import get_settings

    raw = get_settings().chargeback_auto_submit
    return frozenset(part.strip().upper() for part in raw.split(",") if part.strip())


def maybe_auto_submit(session: Session, row: Chargeback, now: dt.datetime) -> ShopifyIntent | None:
    """Submit without a person when the store turned it on for this reason and dropsync would fight."""
    from worker.chargebacks.service import recommendation_for

    if row.reason not in auto_submit_reasons() or row.status != "NEEDS_RESPONSE" or row.order_id is None:
        return None
    if row.evidence_due_by is not None and row.evidence_due_by <= now:
        return None  # past due: Shopify would refuse it
    if row.evidence_sent_on is not None or submissions(session, row):
        return None
    if other_dispute_in_flight(session, row) is not None:
        return None  # the next sync (beat, every 5 minutes) tries again once that one is done
    if recommendation_for(session, row, now).action not in ("fight", "show_refund"):
        return None
    pack = build_pack(session, row)
    if pack.missing or not pack.input:
        return None  # an incomplete pack always goes to a person
    return request_submission(session, row, actor="auto-submit", pack=pack)
