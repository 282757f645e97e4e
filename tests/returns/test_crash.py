"""The return's refund step (``returnProcess``, which takes no idempotency key) with a real Celery worker
on Redis SIGKILLed at each point of the execution path, repeated.

``DROPSYNC_FAILPOINT_KIND=return_process`` aims the failpoint at the refund step only (the returns are
created on Shopify first, by the same worker). The worker dies after claiming the intent, after Shopify
applied the refund but before our commit, or after our commit but before the ack; the test kills the
whole worker and starts a new one. After recovery the Shopify sandbox's own record shows exactly one
applied returnProcess per return, the money refunded is the policy's amount (never more than paid), and
every intent is terminal.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from models import LedgerEntry, LineItem, Order, ReturnCase, Shop, ShopifyIntent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.test_crash import _env, _send, _wait, _worker
from tests.returns.conftest import fulfilled_order
from worker.db import session_scope
from worker.returns import service
from worker.returns import states as rs
from worker.returns.evidence import parse_evidence

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.usefixtures("published")]


def _state(return_id: int) -> str:
    with session_scope() as session:
        return session.get_one(ReturnCase, return_id).state


def _open_returns(sandbox: ShopifySandbox, client: object, shop: Shop, count: int) -> list[tuple[str, int, int]]:
    """``count`` damaged-line returns the policy approves (photos, the customer keeps the item)."""
    out = []
    for _ in range(count):
        gid, order_id, _ = fulfilled_order(sandbox, client, shop)  # type: ignore[arg-type]
        with session_scope() as session:
            order = session.get_one(Order, order_id)
            line = session.scalars(select(LineItem).where(LineItem.order_id == order_id).order_by(LineItem.id)).first()
            assert line is not None
            case = service.request_return(
                session, order, reason="damaged", items={str(line.id): 1}, evidence=parse_evidence("photos"),
                keep_item=True, actor="operator:test",
            )  # fmt: skip
            assert case.state == rs.SHOPIFY_ACTION
            out.append((gid, order_id, case.id))
    return out


@pytest.mark.parametrize("round_", [1, 2])
@pytest.mark.parametrize("point", ["after_claim", "after_mutation", "after_commit"])
def test_sigkill_at_each_point_of_the_refund_step_refunds_exactly_once(
    point: str, round_: int, sandbox: ShopifySandbox, shop: Shop, client: object, database_url: str, redis_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    cases = _open_returns(sandbox, client, shop, 2)
    env = {
        **_env(database_url, redis_url, tmp_path, point), "DROPSYNC_FAILPOINT_KIND": "return_process",
        # One advance carries a return through create, process and close: on a loaded machine that takes
        # longer than the cancellation tests' 6 s. The restarted worker reclaims the dead one's intent after
        # DROPSYNC_INTENT_STALE_SECONDS (3 s) whatever the visibility timeout.
        "DROPSYNC_TASK_TIME_LIMIT": "40", "DROPSYNC_TASK_VISIBILITY_TIMEOUT": "50",
    }  # fmt: skip
    log, marker = tmp_path / "worker.log", tmp_path / "failpoint"
    first = _worker(env, log)
    try:
        for _, _, return_id in cases:
            _send(env, service.ADVANCE_TASK, return_id)
        _wait(marker.exists, 60, f"the failpoint {point} (round {round_})", log)
    finally:
        first.kill()  # the whole process group: nothing acked, nothing restored on the way out
    second = _worker(env, log)
    try:
        for _, _, return_id in cases:
            _send(env, service.ADVANCE_TASK, return_id)  # what the sweeper would publish after a minute
            _wait(lambda rid=return_id: _state(rid) == rs.DONE, 90, f"return {return_id} done", log)  # type: ignore[misc]
    finally:
        second.stop()
    for gid, order_id, return_id in cases:
        with session_scope() as session:
            case = session.get_one(ReturnCase, return_id)
            planned = Decimal((case.policy_decision or {})["refund_total"])
            refunded, return_gid = case.refund_total, case.shopify_gid
            amounts = select(LedgerEntry.amount).where(
                LedgerEntry.order_id == order_id, LedgerEntry.kind == "customer_refund"
            )
            ledger = sum(session.scalars(amounts).all(), Decimal(0))
            states = session.scalars(select(ShopifyIntent.state).where(ShopifyIntent.return_id == return_id)).all()
        assert return_gid is not None
        counts = sandbox.control.return_mutation_counts(return_gid)
        assert counts["returnProcess"]["applied"] == 1, (point, counts)  # never a second refund
        assert counts["returnCreate"]["applied"] == 1
        snap = sandbox.control.snapshot(gid)
        assert Decimal(snap["total_refunded"]) == refunded == planned == ledger > 0
        assert Decimal(snap["total_refunded"]) <= Decimal(snap["total_received"]), "never more than paid"
        assert set(states) == {"succeeded"}, states  # every intent terminal
