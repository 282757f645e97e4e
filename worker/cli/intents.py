"""``dropsync intents``: Shopify intents that need a person — list, retry, resolve."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from models import IntentState, ShopifyIntent
from models.types import utcnow
from worker import outbox
from worker.cancellation import intents as ik
from worker.cancellation import service
from worker.cancellation import states as s
from worker.cli.common import console, print_json, unit_of_work
from worker.cli.supplier import actor

app = typer.Typer(help="Shopify action intents: list stuck ones, retry, resolve by hand.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Machine-readable output.")


@app.command("list-stuck")
def list_stuck(
    older_than: int = typer.Option(10, "--older-than", min=0, help="Live intents older than N minutes."),
    as_json: bool = JSON,
) -> None:
    """Failed intents, live ones unfinished after --older-than minutes, and overdue ones at once
    (due for a retry for over a minute with nothing retrying them: is beat running?).

    Example: dropsync intents list-stuck --older-than 30
    """
    now = utcnow()
    with unit_of_work() as session:
        overdue = {i.id for i in ik.overdue_intents(session, now)}
        rows = [
            {"id": i.id, "order_id": i.order_id, "kind": i.kind, "state": i.state, "attempts": i.attempts,
             "dispatches": i.dispatches, "overdue": i.id in overdue, "created_at": i.created_at,
             "next_attempt_at": i.next_attempt_at, "last_error": i.last_error,
             "request_id": i.cancellation_request_id}
            for i in ik.stuck_intents(session, now, dt.timedelta(minutes=older_than))
        ]  # fmt: skip
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no stuck intents")
        return
    table = Table("id", "order", "kind", "state", "tries", "created", "last error")
    for r in rows:
        state = f"[red]{r['state']} (overdue)[/red]" if r["overdue"] else str(r["state"])
        table.add_row(str(r["id"]), str(r["order_id"]), str(r["kind"]), state, str(r["attempts"]),
                      str(r["created_at"])[:19], str(r["last_error"] or "")[:80])  # fmt: skip
    console.print(table)


@app.command("retry")
def retry(intent_id: int = typer.Argument(...)) -> None:
    """Send an intent round again now (Shopify is read first: nothing is done twice).

    Example: dropsync intents retry 42
    """
    with unit_of_work() as session:
        intent = ik.operator_retry(session, intent_id, actor())
        if intent.cancellation_request_id is not None:
            request = service.get_request(session, intent.cancellation_request_id)
            if request.state == s.NEEDS_OPERATOR:
                s.move(session, request, s.SHOPIFY_ACTION, actor=actor(), why=f"intent {intent.id} retried")
        _follow_return(session, intent, "retried")
        key = f"{service.EXECUTE_TASK}:{intent.id}:operator:{utcnow().isoformat()}"
        outbox.enqueue(session, service.EXECUTE_TASK, [intent.id], dedupe_key=key)
    console.print(f"intent {intent_id} queued again (state {intent.state})")


@app.command("resolve")
def resolve(
    intent_id: int = typer.Argument(...),
    outcome: str = typer.Option(..., "--as", help="succeeded (you saw it done on Shopify) or failed."),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """Record what you saw on Shopify for an intent that is not succeeded.

    Example: dropsync intents resolve 42 --as succeeded --note 'seen refunded in the admin'
    """
    with unit_of_work() as session:
        intent = ik.operator_resolve(session, intent_id, outcome, actor(), note)
        if intent.cancellation_request_id is not None:
            request = service.get_request(session, intent.cancellation_request_id)
            if outcome == IntentState.FAILED and request.state == s.SHOPIFY_ACTION:
                # A person said it did not happen: the request waits for them (retry), not for the sweeper.
                from worker.cancellation.execution import request_to_operator

                why = (f"intent {intent.id} resolved failed by a person ({note or 'no note'}): dropsync intents retry "
                       f"{intent.id}, or dropsync cancel resume {request.id}")  # fmt: skip
                request_to_operator(session, request, why, actor=actor())
            elif outcome == IntentState.SUCCEEDED:
                if request.state == s.NEEDS_OPERATOR:
                    s.move(session, request, s.SHOPIFY_ACTION, actor=actor(), why=f"intent {intent.id} resolved")
                if request.state == s.SHOPIFY_ACTION:
                    service.enqueue_advance(session, request, tag=f"resolved:{intent.id}")
        _follow_return(session, intent, outcome)
    console.print(f"intent {intent_id} resolved as {outcome}")


def _follow_return(session: Session, intent: ShopifyIntent, how: str) -> None:
    """A return's intent retried or resolved by a person: its return follows, as a request does. Retried or
    resolved succeeded: taken back from the person and carried on; resolved failed: handed to them (an
    alert), not planned again by the sweeper behind their back."""
    if intent.return_id is None:
        return
    from worker.returns import handover
    from worker.returns import service as returns
    from worker.returns import states as rs

    case = returns.get_return(session, intent.return_id)
    if how == IntentState.FAILED:
        handover.return_intent_failed(session, intent, actor=actor())
    elif case.state == rs.NEEDS_OPERATOR:
        returns.resume(session, case, actor())
    elif case.state == rs.SHOPIFY_ACTION:
        returns.enqueue_advance(session, case, tag=f"{how}:{intent.id}")
