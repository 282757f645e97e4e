"""Shopify Payments disputes in the sandbox: control API, query roots, Order.disputes, evidence updates, webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from integrations.shopify import documents
from sandboxes.shopify import SandboxConfig, ShopifySandbox
from tests.shopify_sandbox.helpers import Receiver, data

ORDER_DISPUTES = """
query($id: ID!) { order(id: $id) { id totalPriceSet { shopMoney { amount } } disputes { id initiatedAs status } } }
"""
EVIDENCE = """
query($id: ID!) {
  dispute(id: $id) {
    disputeEvidence {
      id submitted uncategorizedText refundPolicyDisclosure customerEmailAddress productDescription
      shippingAddress { city countryCodeV2 }
      fulfillments { shippingCarrier shippingTrackingNumber shippingDate }
    }
  }
}
"""


def _control(sandbox: ShopifySandbox, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{sandbox.base_url}/_sandbox/{path}", json=body, timeout=10)


def _paid_fulfilled_order(sandbox: ShopifySandbox) -> str:
    gid = sandbox.control.create_order(status="accepted")
    sandbox.control.fulfillment(gid, "fulfill", tracking_company="YunExpress", tracking_number="YT2412345678")
    return gid


def _update(sandbox: ShopifySandbox, evidence_id: str, evidence: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = data(
        sandbox, documents.load("DisputeEvidenceUpdate").source, {"id": evidence_id, "input": evidence}
    )["disputeEvidenceUpdate"]
    return result


def test_a_chargeback_opened_by_the_control_api_is_served_everywhere(shopify_sandbox: ShopifySandbox) -> None:
    order_gid = _paid_fulfilled_order(shopify_sandbox)
    number = order_gid.rsplit("/", 1)[1]
    with Receiver() as receiver:
        shopify_sandbox.control.subscribe("disputes/create", receiver.url)
        answer = _control(
            shopify_sandbox, f"orders/{number}/dispute", {"type": "CHARGEBACK", "reason": "PRODUCT_NOT_RECEIVED"}
        )
        assert answer.status_code == 200, answer.text
        dispute_gid = answer.json()["id"]
        assert dispute_gid.startswith("gid://shopify/ShopifyPaymentsDispute/")
        delivery = receiver.wait_for(1)[0]
    order = data(shopify_sandbox, ORDER_DISPUTES, {"id": order_gid})["order"]
    assert order["disputes"] == [{"id": dispute_gid, "initiatedAs": "CHARGEBACK", "status": "NEEDS_RESPONSE"}]
    node = data(shopify_sandbox, documents.load("DisputeById").source, {"id": dispute_gid})["dispute"]
    total = order["totalPriceSet"]["shopMoney"]["amount"]
    assert node["amount"] == {"amount": total, "currencyCode": "USD"}  # defaults to the order's total
    assert node["reasonDetails"] == {"reason": "PRODUCT_NOT_RECEIVED", "networkReasonCode": "13.1"}
    assert node["order"] == {"id": order_gid}
    assert node["status"] == "NEEDS_RESPONSE"
    assert node["evidenceSentOn"] is None
    assert node["finalizedOn"] is None
    assert node["evidenceDueBy"] > node["initiatedAt"]
    assert node["disputeEvidence"]["submitted"] is False
    assert node["disputeEvidence"]["fulfillments"][0]["shippingTrackingNumber"] == "YT2412345678"
    assert node["disputeEvidence"]["fulfillments"][0]["shippingCarrier"] == "YunExpress"
    # The webhook is Shopify's REST Dispute resource.
    assert delivery["headers"]["X-Shopify-Topic"] == "disputes/create"
    body = json.loads(delivery["body"])
    assert body["id"] == int(node["legacyResourceId"])
    assert body["order_id"] == int(number)
    assert (body["type"], body["reason"], body["status"], body["amount"]) == (
        "chargeback", "product_not_received", "needs_response", total,
    )  # fmt: skip
    assert set(body) == {
        "id", "order_id", "type", "amount", "currency", "reason", "network_reason_code", "status",
        "evidence_due_by", "evidence_sent_on", "finalized_on", "initiated_at",
    }  # fmt: skip
    evidence_id = node["disputeEvidence"]["id"]
    by_id = data(
        shopify_sandbox, "query($id: ID!) { disputeEvidence(id: $id) { id dispute { id } } }", {"id": evidence_id}
    )
    assert by_id["disputeEvidence"] == {"id": evidence_id, "dispute": {"id": dispute_gid}}
    listed = data(shopify_sandbox, documents.load("DisputesPage").source, {"first": 10})["disputes"]
    assert [n["id"] for n in listed["nodes"]] == [dispute_gid]


def test_evidence_update_validates_records_and_submits_once(shopify_sandbox: ShopifySandbox) -> None:
    order_gid = _paid_fulfilled_order(shopify_sandbox)
    dispute_gid = shopify_sandbox.control.open_dispute(order_gid, reason="PRODUCT_UNACCEPTABLE", amount="10.00")
    evidence_id = dispute_gid.replace("ShopifyPaymentsDispute/", "ShopifyPaymentsDisputeEvidence/")
    missing = _update(shopify_sandbox, "gid://shopify/ShopifyPaymentsDisputeEvidence/1", {"uncategorizedText": "x"})
    assert missing["userErrors"][0]["code"] == "DISPUTE_EVIDENCE_NOT_FOUND"
    assert missing["disputeEvidence"] is None
    a_file = _update(shopify_sandbox, evidence_id, {"refundPolicyFile": {"id": "gid://shopify/File/1"}})
    assert a_file["userErrors"][0]["code"] == "FILE_NOT_FOUND"
    bad_email = _update(shopify_sandbox, evidence_id, {"customerEmailAddress": "not-an-email"})
    assert bad_email["userErrors"] == [
        {"field": ["input", "customerEmailAddress"], "message": "Customer email address is invalid", "code": "INVALID"}
    ]
    draft = _update(shopify_sandbox, evidence_id, {"refundPolicyDisclosure": "Returns within 15 days."})
    assert draft["userErrors"] == []
    assert draft["disputeEvidence"]["submitted"] is False
    assert draft["disputeEvidence"]["dispute"]["status"] == "NEEDS_RESPONSE"
    with Receiver() as receiver:
        shopify_sandbox.control.subscribe("disputes/update", receiver.url)
        sent = _update(
            shopify_sandbox, evidence_id, {"uncategorizedText": "Delivered 2026-11-02", "submitEvidence": True}
        )
        assert sent["userErrors"] == []
        assert sent["disputeEvidence"]["dispute"]["status"] == "UNDER_REVIEW"
        assert sent["disputeEvidence"]["dispute"]["evidenceSentOn"]
        update = json.loads(receiver.wait_for(1)[0]["body"])
    assert (update["status"], update["evidence_sent_on"] is not None) == ("under_review", True)
    again = _update(shopify_sandbox, evidence_id, {"uncategorizedText": "again", "submitEvidence": True})
    assert again["userErrors"][0]["code"] == "EVIDENCE_ALREADY_ACCEPTED"
    evidence = data(shopify_sandbox, EVIDENCE, {"id": dispute_gid})["dispute"]["disputeEvidence"]
    assert evidence["uncategorizedText"] == "Delivered 2026-11-02"  # the refused resend wrote nothing
    assert evidence["refundPolicyDisclosure"] == "Returns within 15 days."
    assert evidence["submitted"] is True
    assert evidence["customerEmailAddress"].endswith("@example.com")
    recorded = shopify_sandbox.control.dispute(dispute_gid)
    assert [s["submitted"] for s in recorded["submissions"]] == [False, True]
    assert shopify_sandbox.control.applied_counts(order_gid) == {"disputeEvidenceUpdate": 2}


def test_decide_finalizes_and_refuses_a_second_decision(shopify_sandbox: ShopifySandbox) -> None:
    order_gid = _paid_fulfilled_order(shopify_sandbox)
    dispute_gid = shopify_sandbox.control.open_dispute(order_gid, reason="FRAUDULENT")
    assert _control(shopify_sandbox, f"disputes/{dispute_gid}/decide", {"status": "MAYBE"}).status_code == 400
    won = _control(shopify_sandbox, f"disputes/{dispute_gid}/decide", {"status": "WON"})
    assert won.status_code == 200
    assert won.json()["status"] == "won"
    assert won.json()["finalized_on"]
    again = _control(shopify_sandbox, f"disputes/{dispute_gid}/decide", {"status": "LOST"})
    assert again.status_code == 400
    assert "already WON" in again.json()["error"]
    assert _control(shopify_sandbox, "disputes/123/decide", {"status": "WON"}).status_code == 404
    node = data(shopify_sandbox, documents.load("DisputeById").source, {"id": dispute_gid})["dispute"]
    assert node["status"] == "WON"
    assert node["finalizedOn"]
    evidence_id = node["disputeEvidence"]["id"]
    late = _update(shopify_sandbox, evidence_id, {"uncategorizedText": "x", "submitEvidence": True})
    assert late["userErrors"][0]["code"] == "EVIDENCE_ALREADY_ACCEPTED"


def test_control_refusals_are_one_line(shopify_sandbox: ShopifySandbox) -> None:
    unpaid = shopify_sandbox.control.create_order(status="pending")
    number = unpaid.rsplit("/", 1)[1]
    refused = _control(shopify_sandbox, f"orders/{number}/dispute", {"reason": "PRODUCT_NOT_RECEIVED"})
    assert refused.status_code == 400
    assert "no captured payment" in refused.json()["error"]
    paid = shopify_sandbox.control.create_order(status="paid").rsplit("/", 1)[1]
    assert _control(shopify_sandbox, f"orders/{paid}/dispute", {"reason": "BORED"}).status_code == 400
    assert _control(shopify_sandbox, f"orders/{paid}/dispute", {"amount": "-3"}).status_code == 400
    too_much = _control(shopify_sandbox, f"orders/{paid}/dispute", {"amount": "99999"})  # more than was charged
    assert too_much.status_code == 400
    assert "captured" in too_much.json()["error"]
    assert _control(shopify_sandbox, "orders/999/dispute", {}).status_code == 404
    unknown = _control(shopify_sandbox, f"orders/{paid}/dispute", {"resaon": "FRAUDULENT"})  # a typo
    assert unknown.status_code == 400
    assert unknown.json()["error"].startswith("unknown dispute field(s) resaon; expected amount, ")
    for days in (-1, 0, "soon"):
        past = _control(shopify_sandbox, f"orders/{paid}/dispute", {"evidence_due_in_days": days})
        assert past.status_code == 400
        assert "evidence_due_in_days must be" in past.json()["error"]


def test_past_due_evidence_is_refused(shopify_sandbox: ShopifySandbox) -> None:
    order_gid = _paid_fulfilled_order(shopify_sandbox)
    dispute_gid = shopify_sandbox.control.open_dispute(order_gid, reason="PRODUCT_NOT_RECEIVED", evidence_due_in_days=1)
    shopify_sandbox.state.clock.advance(2 * 86400)  # two days on: the due date has passed
    evidence_id = dispute_gid.replace("ShopifyPaymentsDispute/", "ShopifyPaymentsDisputeEvidence/")
    late = _update(shopify_sandbox, evidence_id, {"uncategorizedText": "x", "submitEvidence": True})
    assert late["userErrors"][0]["code"] == "EVIDENCE_PAST_DUE_DATE"


def test_seeded_disputes_are_deterministic_and_filterable() -> None:
    def seeded(seed: int) -> list[dict[str, Any]]:
        start = datetime(2026, 11, 1, tzinfo=UTC)
        sandbox = ShopifySandbox(SandboxConfig(seed=seed, orders=60, disputes=6, clock_start=start))
        try:
            body = sandbox.executor.run(documents.load("DisputesPage").source, {"first": 50}).body
            assert "errors" not in body, body
            nodes: list[dict[str, Any]] = body["data"]["disputes"]["nodes"]
            status = sandbox.executor.run(
                documents.load("DisputesPage").source, {"first": 50, "query": "status:needs_response"}
            ).body["data"]["disputes"]["nodes"]
            assert {n["id"] for n in status} == {n["id"] for n in nodes if n["status"] == "NEEDS_RESPONSE"}
            first = min(n["initiatedAt"] for n in nodes)
            later = sandbox.executor.run(
                documents.load("DisputesPage").source, {"first": 50, "query": f"initiated_at:>'{first}'"}
            ).body["data"]["disputes"]["nodes"]
            assert {n["id"] for n in later} == {n["id"] for n in nodes if n["initiatedAt"] > first}
            assert 0 < len(later) < len(nodes)
            return nodes
        finally:
            sandbox.close()

    one, again, other = seeded(3), seeded(3), seeded(4)
    assert len(one) == 6
    assert one == again
    assert one != other
    for node in one:
        if node["status"] == "NEEDS_RESPONSE":
            assert node["evidenceSentOn"] is None
        assert node["reasonDetails"]["reason"] in ("PRODUCT_NOT_RECEIVED", "PRODUCT_UNACCEPTABLE",
                                                   "CREDIT_NOT_PROCESSED", "FRAUDULENT")  # fmt: skip


def test_disputes_pages_follow_cursors(shopify_sandbox: ShopifySandbox) -> None:
    made = [shopify_sandbox.control.open_dispute(_paid_fulfilled_order(shopify_sandbox)) for _ in range(3)]
    seen, after = [], None
    while True:
        page = data(shopify_sandbox, documents.load("DisputesPage").source, {"first": 2, "after": after})["disputes"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == made
