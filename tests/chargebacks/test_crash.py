"""A real Celery worker SIGKILLed while submitting evidence (test failpoints), then a fresh worker:
``disputeEvidenceUpdate`` has no idempotency key, yet Shopify receives the submission exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from integrations.shopify.client import ShopifyClient
from models import Chargeback, Shop, ShopifyIntent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import mirror
from tests.cancellation.test_crash import _env, _send, _wait, _worker
from tests.chargebacks.conftest import open_and_read
from worker.chargebacks import submission
from worker.db import session_scope

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.usefixtures("published")]


def _intent_state(intent_id: int) -> str:
    with session_scope() as session:
        return session.get_one(ShopifyIntent, intent_id).state


@pytest.mark.parametrize("point", ["after_claim", "after_mutation", "after_commit"])
def test_sigkill_while_submitting_still_submits_exactly_once(
    point: str, sandbox: ShopifySandbox, shop: Shop, client: ShopifyClient, database_url: str, redis_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    row = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED")
    with session_scope() as session:
        intent_id = submission.request_submission(session, session.get_one(Chargeback, row.id), actor="t").id
    env, log = _env(database_url, redis_url, tmp_path, point), tmp_path / "worker.log"
    marker = tmp_path / "failpoint"
    first = _worker(env, log)
    try:
        _send(env, submission.SUBMIT_TASK, intent_id)
        _wait(marker.exists, 60, f"the failpoint {point}", log)
        time.sleep(0.3)
    finally:
        first.kill()
    second = _worker(env, log)
    try:
        _wait(lambda: _intent_state(intent_id) == "succeeded", 90, "the submission succeeded", log)
    finally:
        second.stop()
    assert sandbox.control.mutation_counts(gid) == {"disputeEvidenceUpdate": 1}
    assert sandbox.control.dispute(row.dispute_gid)["status"] == "under_review"
