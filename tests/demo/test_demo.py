"""``dropsync demo`` end to end as a real process, its summary checked against the ledger it left behind."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from models import Alert, CancellationRequest, Chargeback, LedgerEntry, Notification, Order
from tests.cli.support import dropsync
from worker.cancellation.exposure import exposures, totals


@pytest.mark.slow
def test_demo_runs_the_story_and_its_summary_matches_the_ledger(tmp_path: Path) -> None:
    workspace = tmp_path / "demo"
    run = dropsync("demo", "--data-dir", str(workspace), "--json", timeout=300)
    assert run.code == 0, run.err[-3000:]
    assert "Traceback" not in run.err
    summary = json.loads(run.out)

    engine = create_engine(f"sqlite:///{workspace / 'ledger.sqlite3'}")
    with Session(engine) as session:
        orders = summary["orders"]
        assert orders["in_ledger"] == session.scalar(select(func.count()).select_from(Order))
        assert (
            orders["in_ledger"] == orders["in_shopify"] == orders["seeded_before_start"] + orders["created_during_demo"]
        )
        assert orders["webhooks_dropped"] > 0  # the story loses webhooks on purpose
        assert orders["found_only_by_the_sweep"] >= 1  # ... and the sweep finds what they never announced
        # 20 seeded (the sandbox's --orders), not "whatever is not in the webhook story": the chargeback's
        # order is created during the demo too (the summary once said "21 there before start")
        assert orders["seeded_before_start"] == 20
        # + the returns story's two delivered orders + the chargeback's
        assert orders["created_during_demo"] == orders["placed_while_webhooks_lost"] + 2 + 1
        assert (
            orders["mirrored_from_webhooks"] + orders["found_only_by_the_sweep"] == orders["placed_while_webhooks_lost"]
        )

        cases = summary["cases"]
        expected = {"cancel_before_shipment": "done", "refund_after_fulfillment": "done",
                    "refused_by_policy": "denied", "supplier_shipped": "converted_to_return"}  # fmt: skip
        for role, state in expected.items():
            case = cases[role]
            assert case["state"] == state, (role, case)
            order = session.scalars(select(Order).where(Order.name == case["order"])).one()
            request = session.scalars(select(CancellationRequest).where(CancellationRequest.order_id == order.id)).one()
            assert request.state == state
            refunds = session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.order_id == order.id, LedgerEntry.kind == "customer_refund"))  # fmt: skip
            assert refunds is not None
            assert Decimal(case["ledger"]["customer_refunds"]) == Decimal(refunds)

        before = cases["cancel_before_shipment"]
        assert before["shopify"]["cancelled"]
        assert before["ledger"]["cancelled"]
        assert before["shopify"]["mutations_applied"] == {"orderCancel": 1}  # exactly once
        assert before["supplier"]["ledger_status"] == "closed_cancelled"
        assert Decimal(before["shopify"]["total_refunded"]) == Decimal(before["ledger"]["customer_refunds"]) > 0

        after = cases["refund_after_fulfillment"]
        assert after["shopify"]["mutations_applied"] == {"refundCreate": 1}
        assert not after["shopify"]["cancelled"]
        assert Decimal(after["shopify"]["total_refunded"]) == Decimal(after["ledger"]["customer_refunds"]) > 0

        assert cases["refused_by_policy"]["shopify"]["mutations_applied"] == {}
        shipped = cases["supplier_shipped"]
        assert shipped["shopify"]["mutations_applied"] == {}
        assert shipped["supplier"]["ledger_status"] == "shipped"
        assert shipped["supplier"]["tracking"]
        # ... and the request did not end there: its wish was decided again as a return (changed mind: denied)
        assert shipped["became_return"]["state"] == "denied"
        assert shipped["became_return"]["policy"] == "deny"

        damaged = summary["returns"]["damaged_kept"]
        assert damaged["state"] == "done"
        assert damaged["keep_item"] is True
        assert damaged["shopify"]["status"] == "CLOSED"
        assert damaged["shopify"]["mutations_applied"] == {"returnCreate": 1, "returnProcess": 1, "returnClose": 1}
        refunded = Decimal(damaged["refunded_by_return"])
        assert refunded > 0
        # one line only, once, mirrored: Shopify's order total refunded is that line's refund
        assert (
            Decimal(damaged["shopify"]["order_total_refunded"])
            == refunded
            == Decimal(damaged["ledger"]["customer_refunds"])
        )
        assert damaged["lines"]
        assert all(qty == 1 for _, qty in damaged["lines"])
        assert damaged["supplier"]["dispute"]["outcome"] == "partly_refunded"
        assert Decimal(damaged["exposure"]["to_recover"]) == 0
        assert damaged["exposure"]["refund_due_at"] is None
        declined = summary["returns"]["self_serve_declined"]
        assert (declined["source"], declined["state"], declined["reason"]) == ("customer", "declined", "changed_mind")
        assert declined["shopify"]["status"] == "DECLINED"
        assert declined["shopify"]["mutations_applied"] == {"returnRequest": 1, "returnDeclineRequest": 1}
        assert declined["shopify"]["decline"]["note"]
        assert (
            Decimal(declined["shopify"]["order_total_refunded"]) == 0 == Decimal(declined["ledger"]["customer_refunds"])
        )

        alert = summary["protection_alert"]
        assert alert is not None
        order = session.scalars(select(Order).where(Order.name == alert["order"])).one()
        assert str(session.scalar(select(Alert.kind).where(Alert.order_id == order.id))).startswith("protection")

        caught = summary["one_sided_cancellation"]
        order = session.scalars(select(Order).where(Order.name == caught["order"])).one()
        assert order.cancelled_at is not None  # cancelled in Shopify's admin, mirrored by webhook
        one_sided = select(Alert).where(Alert.order_id == order.id, Alert.kind == "shopify_cancelled_supplier_live")
        flagged = session.scalars(one_sided).one()
        assert flagged.resolved_at is None
        assert "ask the seller to cancel" in caught["notification"]
        assert caught["order"] in caught["notification"]
        sent = session.scalars(select(Notification).where(Notification.alert_id == flagged.id)).one()
        assert (sent.channel, sent.state) == ("webhook", "sent")

        rows = exposures(session)
        assert summary["exposure"]["total"] == {c: str(v) for c, v in totals(rows).items()}
        assert {r["order"] for r in summary["exposure"]["orders"]} == {r.order_name for r in rows}

        won = summary["chargeback"]  # not received, but the carrier delivered: fought with the tracking, won
        chargeback = session.scalars(select(Chargeback).where(Chargeback.dispute_gid == won["dispute"])).one()
        assert (won["ledger_status"], chargeback.status, won["shopify"]["status"]) == ("WON", "WON", "won")
        assert won["shopify"]["mutations_applied"] == {"disputeEvidenceUpdate": 1}
        assert won["shopify"]["submissions"] == 1
        [parcel] = won["parcels"]
        assert parcel["tracking_number"] == "LP00DEMO0004CN"
        assert parcel["delivered_at"] is not None
        assert chargeback.evidence_sent_on is not None
        assert won["order"] not in {r.order_name for r in rows}  # won: nothing at risk
    engine.dispose()


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    dropsync("demo", "--data-dir", str(tmp_path)).assert_one_line_error(2)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
