"""Random walks through AliExpress's lifecycle, polled after every step: the ledger always agrees.

Invariants after every poll: the state is the mapping of what the gateway shows; tracking numbers are
the gateway's; at most one supplier payment entry, for the amount paid; closed orders are never
scheduled again, open ones always are; hooks heard exactly the state changes.
"""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as s
from sqlalchemy import select

from integrations.aliexpress import status as st
from models import LedgerEntry
from sandboxes.aliexpress import SandboxError
from tests.supplier.factories import ctx, make_order
from worker.supplier import events, polling, service

ACTIONS = {
    "pay": lambda sb, oid: sb.pay(oid),
    "pass_risk": lambda sb, oid: sb.pass_risk_check(oid),
    "reject_risk": lambda sb, oid: sb.reject_risk_check(oid),
    "ship": lambda sb, oid: sb.ship(oid, f"LP{len(sb.order(oid).tracking)}"),
    "ship_part": lambda sb, oid: sb.ship(oid, f"LP{len(sb.order(oid).tracking)}", partial=True),
    "request_cancel": lambda sb, oid: sb.request_cancellation(oid),
    "accept_cancel": lambda sb, oid: sb.seller_accepts_cancellation(oid),
    "refuse_cancel": lambda sb, oid: sb.seller_refuses_cancellation(oid),
    "deliver": lambda sb, oid: sb.deliver(oid),
    "confirm": lambda sb, oid: sb.confirm_receipt(oid),
    "extend": lambda sb, oid: sb.extend_protection(oid, 10),
    "dispute": lambda sb, oid: sb.open_dispute(oid),
    "resolve_refund": lambda sb, oid: sb.resolve_dispute(oid, refund=True),
    "resolve_keep": lambda sb, oid: sb.resolve_dispute(oid, refund=False),
    "hour": lambda sb, _oid: sb.clock.advance(hours=1),
    "day": lambda sb, _oid: sb.clock.advance(days=1),
    "week": lambda sb, _oid: sb.clock.advance(days=7),
    "months": lambda sb, _oid: sb.clock.advance(days=45),
}
# Payment first most of the time, so walks get past the first states.
walks = s.lists(s.sampled_from(sorted(ACTIONS)), min_size=1, max_size=14).map(lambda xs: ["pay", *xs])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(walk=walks)
def test_random_lifecycles_keep_the_ledger_in_agreement(session, aliexpress_sandbox, walk: list[str]) -> None:
    sb, c = aliexpress_sandbox, ctx("US")
    oid = sb.create_order("12.00")
    so = service.link_supplier_order(session, make_order(session), oid, None, "test", now=sb.clock.now())
    heard: list[tuple[str, str]] = []

    def hear(_s, changed, old, new) -> None:
        if changed.id == so.id:
            heard.append((old, new))

    events.on_supplier_change(hear)
    try:
        states = [so.status]
        with sb.client() as client:
            for action in walk:
                try:
                    ACTIONS[action](sb, oid)
                except SandboxError:
                    continue  # not possible in the current status: AliExpress would refuse it too
                now = sb.clock.now()
                assert polling.poll_supplier_order(session, so, client, now, ctx=c).outcome in ("ok", "changed")
                remote = sb.order(oid)
                expected = st.map_status(remote.order_status, remote.end_reason, remote.logistics_status)
                assert so.status == expected.state, (action, remote.order_status, remote.end_reason)
                assert so.status_unknown is False
                assert so.tracking_numbers == [p["logistics_no"] for p in remote.tracking]
                if so.status in st.CLOSED_STATES:
                    assert so.next_poll_at is None
                else:
                    assert so.next_poll_at is not None
                    assert now < so.next_poll_at <= now + dt.timedelta(hours=6)
                if so.status != states[-1]:
                    states.append(so.status)
        payments = session.scalars(
            select(LedgerEntry).where(LedgerEntry.supplier_order_id == so.id, LedgerEntry.kind == "supplier_payment")
        ).all()
        assert len(payments) == (1 if sb.order(oid).paid_at else 0)
        assert all(p.amount == 12 for p in payments)
        assert heard == list(itertools.pairwise(states))
    finally:
        events.remove_supplier_callback(hear)
