"""Liveness: a live intent is always either due for a retry that is really published, or failed in front
of a person with an alert — whatever message is lost, at whichever step.

A lost message is a published task that never runs: Redis restarted without persistence, the queue
flushed, a worker SIGKILLed while holding it. Here the publisher records messages and the test drops
them (the real-process version of this is ``bench/chaos.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import select, update

from integrations.shopify.client import ShopifyClient
from integrations.shopify.documents import Document
from integrations.shopify.errors import ShopifyGraphQLError
from models import Alert, CancellationRequest, Order, Shop, ShopifyIntent
from models.types import utcnow
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.cancellation.faults import LossyClient
from tests.support.cli import InProcess, in_process
from worker.cancellation import execution, service, sweeper
from worker.cancellation import intents as ik
from worker.cancellation import states as s
from worker.db import session_scope
from worker.settings import get_settings
from worker.timeline import PLANNING_TRIES

STEPS = ("planned_not_run", "killed_after_claim", "killed_after_mutation", "verdict_lost")


class Killed(BaseException):
    """The worker process died here (nothing after this line runs or commits)."""


@pytest.fixture
def lossy(sandbox: ShopifySandbox) -> Iterator[LossyClient]:
    with LossyClient(
        sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url, backoff_initial=0.01
    ) as c:
        yield c


def _request(order_id: int) -> int:
    with session_scope() as session:
        order = session.get_one(Order, order_id)
        return service.create_request(session, order, reason="out_of_stock", actor="operator:test").id


def _intent(request_id: int) -> ShopifyIntent:
    with session_scope() as session:
        return session.scalars(select(ShopifyIntent).where(ShopifyIntent.cancellation_request_id == request_id)).one()


def _stall_at(step: str, request_id: int, lossy: LossyClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the request's first attempt and lose it at ``step``."""
    if step == "verdict_lost":
        lossy.lose_after = 1
        assert execution.run_request(session_scope, request_id, lossy) == "unknown"
        return
    with monkeypatch.context() as patch:
        if step == "planned_not_run":
            patch.setattr(execution, "_claim", _die)
        else:
            point = step.removeprefix("killed_")
            patch.setattr(execution, "failpoint", lambda name, kind=None: _die() if name == point else None)
        with pytest.raises(Killed):
            execution.run_request(session_scope, request_id, lossy)
    # The dead worker's claim is old by the time anything looks again (the stale window passed).
    long_ago = dt.datetime.now(dt.UTC) - ik.stale_submitting() - dt.timedelta(minutes=1)
    with session_scope() as session:
        session.execute(update(ShopifyIntent).where(ShopifyIntent.state == "submitting").values(submitted_at=long_ago))


def _die(*_: object, **__: object) -> None:
    raise Killed


def _run(message: tuple[str, list[int]], lossy: LossyClient) -> None:
    """What the worker does with a delivered ``cancellation.execute_intent`` message."""
    task, (intent_id,) = message
    assert task == service.EXECUTE_TASK
    if execution.execute_intent(session_scope, intent_id, lossy) == "succeeded":
        execution.run_request(session_scope, _intent_request(intent_id), lossy)


def _intent_request(intent_id: int) -> int:
    with session_scope() as session:
        request_id = ik.get_intent(session, intent_id).cancellation_request_id
        assert request_id is not None
        return request_id


def _later(now: dt.datetime) -> dt.datetime:
    """Past any backoff (<= 160 s here), dispatch lease and stale-claim window."""
    return now + ik.dispatch_lease() + ik.stale_submitting() + dt.timedelta(minutes=3)


@pytest.mark.parametrize("step", STEPS)
def test_a_lost_retry_message_is_sent_again_and_the_action_happens_once(
    step: str, sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    gid = sandbox.control.create_order(status="paid", line_items=1)
    request_id = _request(mirror(lossy, shop.id, gid))
    published.take()
    _stall_at(step, request_id, lossy, monkeypatch)
    now = dt.datetime.now(dt.UTC)
    for _lost in range(3):  # three retry messages lost in a row (Redis flushed each time)
        now = _later(now)
        with session_scope() as session:
            assert sweeper.sweep(session, now).retried == 1
        assert [task for task, _ in published.take()] == [service.EXECUTE_TASK]
        with session_scope() as session:
            assert sweeper.sweep(session, now).retried == 0  # the lease holds: no duplicate meanwhile
    now = _later(now)
    with session_scope() as session:
        assert sweeper.sweep(session, now).retried == 1
    [message] = published.take()
    _run(message, lossy)
    assert _intent(request_id).state == "succeeded"
    assert _intent(request_id).dispatches == 4
    with session_scope() as session:
        assert session.get_one(CancellationRequest, request_id).state == s.DONE
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}


def test_messages_lost_forever_hand_the_intent_to_a_person(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    request_id = _request(mirror(lossy, shop.id, gid))
    lossy.lose_after = 1
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    published.take()
    now = dt.datetime.now(dt.UTC)
    for _ in range(ik.MAX_DISPATCHES):
        now = _later(now)
        with session_scope() as session:
            assert sweeper.sweep(session, now).retried == 1
        published.take()  # lost
    now = _later(now)
    with session_scope() as session:
        assert sweeper.sweep(session, now).failed == 1
    intent = _intent(request_id)
    assert intent.state == "failed"
    assert f"{ik.MAX_DISPATCHES} retry messages" in (intent.last_error or "")
    with session_scope() as session:
        key = f"cancellation:intent_failed:{intent.id}"
        alert = session.scalars(select(Alert).where(Alert.dedupe_key == key)).one()
        assert alert.severity == "critical"
        assert session.get_one(CancellationRequest, request_id).state == s.NEEDS_OPERATOR


def test_an_unpublished_dispatch_is_left_to_the_relay_and_not_counted(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    request_id = _request(mirror(lossy, shop.id, gid))
    lossy.lose_after = 1
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"

    def broker_down(task: str, args: list[object]) -> None:
        raise ConnectionError("redis down")

    from worker import outbox

    previous = outbox.set_publisher(broker_down)
    try:
        now = _later(dt.datetime.now(dt.UTC))
        with session_scope() as session:
            assert sweeper.sweep(session, now).retried == 1
        for _ in range(3):
            now = _later(now)
            with session_scope() as session:
                assert sweeper.sweep(session, now).retried == 0
    finally:
        outbox.set_publisher(previous)
    assert _intent(request_id).dispatches == 1


@pytest.fixture
def cli(
    shop: Shop, published: Published, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[InProcess]:
    yield in_process(monkeypatch, capsys, {"SHOPIFY_SHOP_DOMAIN": "cli-unused.myshopify.com", "COLUMNS": "300"})
    get_settings.cache_clear()


def test_an_overdue_action_shows_at_once_in_list_stuck_and_deadlines(
    cli: InProcess, sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    request_id = _request(mirror(lossy, shop.id, gid))
    lossy.lose_after = 1
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    intent_id = _intent(request_id).id
    code, out, _ = cli("intents", "list-stuck", "--json")
    assert (code, json.loads(out)) == (0, [])  # due in 5 s: not overdue, and only seconds old
    # Nothing retried it (beat down, or the retry was lost before this fix): two minutes past due.
    with session_scope() as session:
        overdue_since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
        stalled = update(ShopifyIntent).where(ShopifyIntent.id == intent_id)
        session.execute(stalled.values(next_attempt_at=overdue_since))
    code, out, _ = cli("intents", "list-stuck", "--json")
    [row] = json.loads(out)
    assert (row["id"], row["state"], row["overdue"]) == (intent_id, "unknown", True)
    code, out, _ = cli("deadlines", "--json")
    rows = json.loads(out)
    assert rows[0]["kind"] == "shopify_action_overdue"
    assert f"intent {intent_id}" in rows[0]["message"]
    code, out, _ = cli("deadlines")
    assert "shopify_action_overdue" in out


# --- a person's retry of an exhausted intent (`dropsync intents retry`) ------------------------------------


def test_an_operator_retry_is_attempted_before_the_sweeper_gives_up_again(
    sandbox: ShopifySandbox, lossy: LossyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    order_id = mirror(lossy, shop.id, gid)
    request_id = _request(order_id)
    lossy.lose_before = 100  # Shopify unreachable for a while: the intent exhausts its attempts
    assert execution.run_request(session_scope, request_id, lossy) == "unknown"
    intent_id = _intent(request_id).id
    for _ in range(ik.MAX_ATTEMPTS - 1):
        execution.execute_intent(session_scope, intent_id, lossy)
    with session_scope() as session:
        assert sweeper.sweep(session, utcnow() + dt.timedelta(hours=2)).failed == 1
    assert _intent(request_id).state == "failed"

    # Shopify is back; a person retries (what `dropsync intents retry` does) ...
    lossy.lose_before = 0
    with session_scope() as session:
        ik.operator_retry(session, intent_id, "operator:test")
        request = session.get_one(CancellationRequest, request_id)
        s.move(session, request, s.SHOPIFY_ACTION, actor="operator:test", why="retry")
    attempts = _intent(request_id).attempts
    with session_scope() as session:
        alert = session.scalars(select(Alert).where(Alert.dedupe_key == ik.failed_alert_key(_intent(request_id)))).one()
        assert alert.resolved_at is not None  # the person took it: open again only if it fails again
    # ... and the beat's sweep (every 15 s) runs before a worker took the retry message (a queue backlog,
    # or the message was lost: exactly what the sweeper exists for).
    with session_scope() as session:
        result = sweeper.sweep(session, utcnow() + dt.timedelta(seconds=1))
    after = _intent(request_id)
    assert (after.state, after.attempts, result.failed) != ("failed", attempts, 1), (
        f"the person's retry was failed again by the sweeper without a single attempt: {after.last_error}"
    )
    assert execution.run_request(session_scope, request_id, lossy) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}


# --- a step whose reads Shopify keeps refusing --------------------------------------------------------------


class _Unreadable(ShopifyClient):
    """Shopify answers every read of the order with an error (an internal error that does not go away)."""

    def execute(
        self, document: str | Document, variables: Mapping[str, Any] | None = None, *, idempotent: bool = False
    ) -> dict[str, Any]:
        name = document if isinstance(document, str) else document.name
        if name == "OrderForAction":
            raise ShopifyGraphQLError([{"message": "Internal error. Looks like something went wrong on our end."}],
                                      operation=name)  # fmt: skip
        return super().execute(document, variables, idempotent=idempotent)


def test_a_request_whose_order_shopify_cannot_read_goes_to_a_person_then_resumes_once(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    gid = sandbox.control.create_order(status="paid", line_items=1)
    request_id = _request(mirror(client, shop.id, gid))
    with _Unreadable(sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url,
                     backoff_initial=0.01) as unreadable:  # fmt: skip
        # the advance task, then what the sweeper sends every minute while it is idle in shopify_action
        outcomes = [execution.run_request(session_scope, request_id, unreadable) for _ in range(PLANNING_TRIES)]
    assert outcomes == ["retry"] * (PLANNING_TRIES - 1) + ["operator"]
    with session_scope() as session:
        request = session.get_one(CancellationRequest, request_id)
        assert request.state == s.NEEDS_OPERATOR
        alert = session.scalars(select(Alert).where(Alert.kind == "cancellation_needs_operator")).one()
        assert alert.resolved_at is None
        assert f"could not be planned after {PLANNING_TRIES} tries: Shopify OrderForAction" in alert.message
        service.resume(session, request, "operator:test")  # `dropsync cancel resume`, once Shopify is back
        assert session.get_one(Alert, alert.id).resolved_at is not None
    assert execution.run_request(session_scope, request_id, client) == "done"
    assert sandbox.control.applied_counts(gid) == {"orderCancel": 1}
