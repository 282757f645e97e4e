"""``dropsync chargebacks``: Shopify Payments disputes, their evidence pack, the recommendation, submission."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Chargeback, Order
from models.chargebacks import DISPUTE_STATUSES
from models.types import utcnow
from worker.chargebacks import evidence, service, submission
from worker.cli.common import console, print_json, unit_of_work
from worker.cli.supplier import actor
from worker.errors import RefusedError, UsageError
from worker.money import round_money
from worker.orders import resolve_order

app = typer.Typer(help="Chargebacks (Shopify Payments disputes): list, show, evidence, submit.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _say(text: str) -> None:
    console.print(text, soft_wrap=True, markup=False, highlight=False)


def _day(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def _row(session: Session, row: Chargeback) -> dict[str, Any]:
    order = session.get(Order, row.order_id) if row.order_id else None
    advice = service.recommendation_for(session, row, utcnow())
    return service.describe(row) | {
        "order": order.name if order else None, "order_gid": row.order_gid, "recommendation": advice.to_dict(),
    }  # fmt: skip


@app.command("list")
def list_(
    status: str | None = typer.Option(None, "--status", help="Only this status (e.g. NEEDS_RESPONSE)."),
    as_json: bool = JSON,
) -> None:
    """Every mirrored dispute, the ones whose evidence is due soonest first.

    Example: dropsync chargebacks list --status NEEDS_RESPONSE --json
    """
    wanted = status.strip().upper() if status else None
    if wanted is not None and wanted not in DISPUTE_STATUSES:
        raise UsageError(f"--status: unknown status {status!r} (one of: {', '.join(DISPUTE_STATUSES)})")
    with unit_of_work() as session:
        query = select(Chargeback).order_by(
            Chargeback.evidence_due_by.is_(None), Chargeback.evidence_due_by, Chargeback.id
        )
        if wanted:
            query = query.where(Chargeback.status == wanted)
        rows = [_row(session, r) for r in session.scalars(query)]
    if as_json:
        print_json({"chargebacks": rows})
        return
    table = Table("order", "type", "reason", "amount", "status", "evidence due", "sent", "recommendation")
    for r in rows:
        money = f"{r['amount']} {r['currency']}"
        due, sent = _day(r["evidence_due_by"]), _day(r["evidence_sent_on"])
        order = r["order"] or f"{r['order_gid'] or r['dispute']} (not mirrored yet)"
        table.add_row(order, r["type"], r["reason"], money, r["status"], due, sent,
                      r["recommendation"]["action"])  # fmt: skip
    console.print(table)


@app.command("show")
def show(order: str = typer.Argument(..., help="The order (#1001, 1001, id or gid)."), as_json: bool = JSON) -> None:
    """The order's disputes, what dropsync recommends (joining the AliExpress side), and submissions.

    Example: dropsync chargebacks show '#1001'
    """
    with unit_of_work() as session:
        found = resolve_order(session, order)
        rows = service.chargebacks_of(session, found.id)
        if not rows:
            raise UsageError(f"order {found.name} has no Shopify Payments dispute")
        out = []
        for row in rows:
            intents = [{"intent_id": i.id, "state": i.state, "attempts": i.attempts, "last_error": i.last_error}
                       for i in submission.submissions(session, row)]  # fmt: skip
            suppliers = [vars(s) for s in service.supplier_side(session, row)]
            out.append(_row(session, row) | {"submissions": intents, "supplier_orders": suppliers})
    if as_json:
        print_json({"order": found.name, "chargebacks": out})
        return
    for r in out:
        _say(f"{found.name}: {r['type'].lower()} {r['dispute']} — {r['reason']} ({r['network_reason_code'] or '-'}), "
             f"{r['amount']} {r['currency']} + fee {r['fee']}, {r['status']}")  # fmt: skip
        _say(f"  initiated {_day(r['initiated_at'])}, evidence due {_day(r['evidence_due_by']) or '-'}, "
             f"sent {_day(r['evidence_sent_on']) or '-'}, finalized {_day(r['finalized_on']) or '-'}")  # fmt: skip
        for s in r["supplier_orders"]:
            dates = (f"shipped {_day(s['shipped_at']) or '-'}, delivered {_day(s['delivered_at']) or '-'}, "
                     f"protection ends {_day(s['protection_ends_at']) or '-'}")  # fmt: skip
            _say(f"  AliExpress {s['supplier_order_id']}: {s['status']}, {dates}")
        advice = r["recommendation"]
        _say(f"  recommendation: {advice['action']}: {advice['summary']}")
        for step in advice["steps"]:
            _say(f"    - {step}")
        for i in r["submissions"]:
            _say(f"  submission intent {i['intent_id']}: {i['state']} after {i['attempts']} attempt(s)")


DISPUTE = typer.Option(None, "--dispute", help="Which dispute, when the order has more than one (GID or id).")


def _pack(session: Session, ref: str, dispute: str | None) -> tuple[Chargeback, evidence.Pack, str]:
    found = resolve_order(session, ref)
    row = service.current(session, found, dispute)
    pack = evidence.build_pack(session, row)
    row.pack, row.pack_built_at = pack.to_dict(), utcnow()
    return row, pack, found.name


def _print_pack(name: str, row: Chargeback, pack: evidence.Pack) -> None:
    amount = round_money(row.amount, row.currency)
    _say(f"Evidence pack for {name}, dispute {row.dispute_gid} ({row.reason}, {amount} {row.currency})")
    for p in pack.parcels:
        _say(f"  AliExpress {p.supplier_order_id}: tracking {p.tracking_number or '-'} ({p.carrier or 'carrier ?'}), "
             f"shipped {_day(p.shipped_at) or '-'}, delivered {_day(p.delivered_at) or '-'}")  # fmt: skip
    for f in pack.shopify_fulfillments:
        _say(f"  Shopify fulfillment: {f.get('shippingCarrier') or '-'} {f.get('shippingTrackingNumber') or '-'}, "
             f"shipped {f.get('shippingDate') or '-'}")  # fmt: skip
    for r in pack.refunds:
        _say(f"  refund {r['id']}: {r['amount']} {r['currency']} on {str(r['created_at'])[:10]}")
    if pack.policy_version:
        _say(f"  policy version {pack.policy_version}")
    for gap in pack.missing:
        _say(f"  missing: {gap}")
    _say("Sent to Shopify (disputeEvidenceUpdate):")
    for key, value in pack.input.items():
        _say(f"[{key}]")
        _say(str(value))


@app.command("evidence")
def evidence_(
    order: str = typer.Argument(...),
    read_tracking: bool = typer.Option(False, "--tracking", help="Read the parcels' AliExpress tracking first."),
    text: str | None = typer.Option(
        None, "--text", help="Your own words for the bank, sent first with the pack ('' removes them)."
    ),
    dispute: str | None = DISPUTE,
    as_json: bool = JSON,
) -> None:
    """Assemble the evidence pack from the ledger (per reason) and show exactly what would be sent.

    --text adds what the ledger cannot know (a fraud check, the customer's messages) to the pack,
    kept until the evidence is sent; a pack with nothing else can then be submitted.
    Example: dropsync chargebacks evidence '#1001' --tracking --json
    Example: dropsync chargebacks evidence '#1001' --text "The customer confirmed receipt by email on 2 Dec."
    """
    if read_tracking:
        from worker.chargebacks import tracking
        from worker.db import session_scope
        from worker.supplier.gateway import client_from_settings

        with unit_of_work() as session:
            row_id = service.current(session, resolve_order(session, order), dispute).id
        with client_from_settings() as ae:
            tracking.snapshot(session_scope, row_id, ae)
    if text is not None:
        with unit_of_work() as session:
            _state(session, service.current(session, resolve_order(session, order), dispute), text)
    with unit_of_work() as session:
        row, pack, name = _pack(session, order, dispute)
    if as_json:
        print_json(pack.to_dict() | {"order": name, "dispute": row.dispute_gid})
        return
    _print_pack(name, row, pack)


#: Longer words would not be read: Shopify's evidence text is for a short statement (checked here, before
#: anything is stored).
STATEMENT_MAX = 5000


def _state(session: Session, row: Chargeback, text: str) -> None:
    """Keep (or, with '', remove) a person's statement for ``row``'s pack, on the order's timeline."""
    from worker.timeline import record_event

    words = text.strip() or None
    if words is not None and len(words) > STATEMENT_MAX:
        raise UsageError(f"--text is {len(words)} characters: at most {STATEMENT_MAX}")
    submission.check_submittable(row)  # nothing to add to evidence already sent or no longer taken
    if (live := submission.live_submission(session, row)) is not None:
        raise RefusedError(f"the evidence is already queued for Shopify as intent {live.id}: it is sent as it was")
    if words == row.note:
        return
    row.note = words
    record_event(
        session, shop_id=row.shop_id, order_id=row.order_id, kind="chargeback.statement", actor=actor(),
        message=(f"statement for dispute {row.number} {'set' if words else 'removed'}"
                 + (f": {words[:200]}" if words else "")),
        data={"chargeback_id": row.id},
    )  # fmt: skip


@app.command("submit")
def submit(
    order: str = typer.Argument(...),
    yes: bool = typer.Option(False, "--yes", help="Submit without asking (a person's word, given up front)."),
    dispute: str | None = DISPUTE,
    as_json: bool = JSON,
) -> None:
    """Submit the evidence pack to Shopify (disputeEvidenceUpdate with submitEvidence), exactly once.

    The submission is a persisted intent executed by the worker; Shopify takes evidence once.
    Example: dropsync chargebacks submit '#1001' --yes
    """
    with unit_of_work() as session:
        row, pack, name = _pack(session, order, dispute)
        live = submission.live_submission(session, row)
        if live is None:
            submission.check_submittable(row)  # refused before anyone is asked
        else:
            done = {"order": name, "dispute": row.dispute_gid, "intent_id": live.id, "state": live.state,
                    "missing": list(pack.missing)}  # fmt: skip
    if live is not None:  # submitting twice is answered with the first submission, never a second one
        if as_json:
            print_json(done | {"already_submitted": True})
            return
        sent = f", evidence sent {row.evidence_sent_on:%Y-%m-%d %H:%M}" if row.evidence_sent_on else ""
        _say(f"evidence for {name} was already submitted as intent {live.id} ({live.state}{sent}); "
             f"nothing new queued (dropsync chargebacks show '{name}')")  # fmt: skip
        return
    if not yes:
        _print_pack(name, row, pack)
        if not sys.stdin.isatty():
            raise RefusedError("nothing submitted: confirm at a terminal, or pass --yes")
        if not typer.confirm("Submit this evidence to Shopify? Shopify accepts it only once", default=False):
            raise RefusedError("nothing submitted")
    elif pack.missing and not as_json:  # --yes: asked nothing, but told what the pack lacks
        for gap in pack.missing:
            _say(f"warning: the pack lacks something: {gap}")
    with unit_of_work() as session:
        fresh = session.get_one(Chargeback, row.id)
        intent = submission.request_submission(session, fresh, actor=actor(), pack=pack)
        result = {"order": name, "dispute": fresh.dispute_gid, "intent_id": intent.id, "state": intent.state,
                  "missing": list(pack.missing)}  # fmt: skip
    if as_json:
        print_json(result | {"already_submitted": False})
        return
    _say(f"evidence for {name} queued for Shopify as intent {result['intent_id']} ({result['state']}); "
         f"the worker sends it once (dropsync chargebacks show '{name}')")  # fmt: skip
