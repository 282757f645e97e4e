"""Hypothesis: duplicate webhooks, lost answers, operator retries, sweeps and reconciliations in any
order never make a second refund (or cancellation), nor a refund above what the customer paid.

Each example is one order on the Shopify sandbox (unfulfilled → orderCancel, or fulfilled →
refundCreate) and one request; the sandbox's own mutation record is the judge.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from models import CancellationRequest, Order, Shop, ShopifyIntent, WebhookDelivery
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify.model import parse_gid
from tests.cancellation.conftest import Published, mirror
from tests.cancellation.faults import LossyClient
from worker.cancellation import execution, hooks, service, sweeper
from worker.cancellation import intents as ik
from worker.cancellation import states as s
from worker.db import session_scope
from worker.policy import parse_policy

pytestmark = pytest.mark.slow


def _machine(sandbox: ShopifySandbox, client: LossyClient, shop: Shop, published: Published) -> type:
    class CancellationMachine(RuleBasedStateMachine):
        @initialize(fulfilled=st.booleans(), fee=st.sampled_from([0, 10]))
        def create(self, fulfilled: bool, fee: int) -> None:
            self.gid = sandbox.control.create_order(status="paid", line_items=2)
            if fulfilled:
                for step in ("submit", "accept", "fulfill"):
                    sandbox.control.fulfillment(self.gid, step)
            self.order_id = mirror(client, shop.id, self.gid)
            with session_scope() as session:
                order = session.get_one(Order, self.order_id)
                reason = "damaged" if fulfilled else "out_of_stock"
                policy = parse_policy(f"[cancellation]\nfee_percent = {fee}\n")
                request = service.create_request(session, order, reason=reason, actor="operator:test", policy=policy)
                self.refund_total = Decimal((request.policy_decision or {})["refund_total"])
                if request.state == s.NEEDS_APPROVAL:
                    service.approve(session, request, "operator:test")
                self.request_id = request.id
            client.lose_after = client.lose_before = 0
            published.take()

        @rule(lose_after=st.integers(0, 2), lose_before=st.integers(0, 1))
        def worker_runs_the_request(self, lose_after: int, lose_before: int) -> None:
            client.lose_after, client.lose_before = lose_after, lose_before
            execution.run_request(session_scope, self.request_id, client, reclaim_stale=True)
            client.lose_after = client.lose_before = 0

        @rule(lose_after=st.integers(0, 1))
        def redelivered_intent_message(self, lose_after: int) -> None:
            for intent_id in self._intent_ids():
                client.lose_after = lose_after
                execution.execute_intent(session_scope, intent_id, client, reclaim_stale=True)
            client.lose_after = 0

        @rule()
        def reconciliation(self) -> None:
            mirror(client, shop.id, self.gid)

        @rule(times=st.integers(1, 3))
        def refund_webhooks_duplicated(self, times: int) -> None:
            snap = sandbox.control.snapshot(self.gid)
            notes = self._refund_notes()
            for refund_gid, note in notes.items():
                body = {"id": parse_gid(refund_gid, "Refund"), "admin_graphql_api_id": refund_gid, "note": note,
                        "order_id": parse_gid(snap["id"], "Order")}  # fmt: skip
                for _ in range(times):
                    with session_scope() as session:
                        delivery = WebhookDelivery(shop_id=shop.id, delivery_id="x", topic="refunds/create",
                                                   body=orjson.dumps(body).decode())  # fmt: skip
                        hooks.close_refund_intent(session, delivery)

        @rule()
        def sweeper_runs(self) -> None:
            with session_scope() as session:
                sweeper.sweep(session, dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))
            for task, args in published.take():
                if task == service.EXECUTE_TASK:
                    execution.execute_intent(session_scope, args[0], client, reclaim_stale=True)
                elif task == service.ADVANCE_TASK:
                    execution.run_request(session_scope, args[0], client, reclaim_stale=True)

        @rule()
        def operator_retries_a_failed_intent(self) -> None:
            with session_scope() as session:
                failed = session.scalars(
                    select(ShopifyIntent).where(
                        ShopifyIntent.order_id == self.order_id, ShopifyIntent.state == "failed"
                    )
                ).all()
                for intent in failed:
                    if ik.live_intent(session, intent.order_id, intent.kind) is None:
                        ik.operator_retry(session, intent.id, "operator:test")
                request = session.get_one(CancellationRequest, self.request_id)
                if request.state == s.NEEDS_OPERATOR and failed:
                    s.move(session, request, s.SHOPIFY_ACTION, actor="operator:test", why="retry")

        @invariant()
        def never_twice_never_above_paid(self) -> None:
            if not hasattr(self, "gid"):
                return
            counts = sandbox.control.applied_counts(self.gid)
            assert counts.get("refundCreate", 0) <= 1, counts
            assert counts.get("orderCancel", 0) <= 1, counts
            assert not (counts.get("refundCreate") and counts.get("orderCancel") and self._cancel_refunded())
            snap = sandbox.control.snapshot(self.gid)
            assert (
                Decimal(snap["total_refunded"]) <= Decimal(snap["total_received"]) + Decimal(snap["total_refunded"]) * 0
            )
            assert Decimal(snap["total_refunded"]) <= self._paid()
            assert Decimal(snap["total_refunded"]) <= self.refund_total  # never more than the policy decided

        def teardown(self) -> None:
            if not hasattr(self, "gid"):
                return
            client.lose_after = client.lose_before = 0
            for _ in range(3):
                self.operator_retries_a_failed_intent()
                execution.run_request(session_scope, self.request_id, client, reclaim_stale=True)
            counts = sandbox.control.applied_counts(self.gid)
            assert counts.get("refundCreate", 0) <= 1, counts
            assert counts.get("orderCancel", 0) <= 1, counts
            assert counts, "nothing was done on Shopify"
            assert Decimal(sandbox.control.snapshot(self.gid)["total_refunded"]) == self.refund_total
            with session_scope() as session:
                assert session.get_one(CancellationRequest, self.request_id).state == s.DONE
                states = session.scalars(select(ShopifyIntent.state).where(ShopifyIntent.order_id == self.order_id))
                assert set(states) <= {"succeeded", "failed"}

        # -- helpers ----------------------------------------------------------------------------------
        def _intent_ids(self) -> list[int]:
            with session_scope() as session:
                return list(session.scalars(select(ShopifyIntent.id).where(ShopifyIntent.order_id == self.order_id)))

        def _refund_notes(self) -> dict[str, Any]:
            view = client.execute("OrderForAction", {"id": self.gid})["order"]
            return {r["id"]: r.get("note") for r in view["refunds"]}

        def _cancel_refunded(self) -> bool:
            return any(m["name"] == "orderCancel" and m.get("refund") for m in sandbox.control.mutations(self.gid))

        def _paid(self) -> Decimal:
            received = client.execute("OrderForAction", {"id": self.gid})["order"]["totalReceivedSet"]
            return Decimal(received["shopMoney"]["amount"])

    return CancellationMachine


def test_no_second_refund_whatever_happens(sandbox: ShopifySandbox, shop: Shop, published: Published) -> None:
    with LossyClient(
        sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url, backoff_initial=0.01
    ) as client:
        machine = _machine(sandbox, client, shop, published)
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=12, stateful_step_count=8, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            ),
        )  # fmt: skip
