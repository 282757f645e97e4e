"""Shopify Payments disputes in the sandbox: control API, query roots, Order.disputes, evidence updates, webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
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


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_bank_escalates_an_answered_inquiry_into_a_chargeback_that_needs_a_response_again(
    shopify_sandbox: ShopifySandbox,
) -> None:
    order_gid = _paid_fulfilled_order(shopify_sandbox)
    dispute_gid = shopify_sandbox.control.open_dispute(
        order_gid, type="INQUIRY", reason="PRODUCT_NOT_RECEIVED", evidence_due_in_days=4
    )
    evidence_id = dispute_gid.replace("ShopifyPaymentsDispute/", "ShopifyPaymentsDisputeEvidence/")
    before = data(shopify_sandbox, documents.load("DisputeById").source, {"id": dispute_gid})["dispute"]
    due = (shopify_sandbox.state.clock.now() + timedelta(days=20)).replace(microsecond=0)
    with Receiver() as receiver:
        shopify_sandbox.control.subscribe("disputes/update", receiver.url)
        answered = _update(
            shopify_sandbox, evidence_id, {"uncategorizedText": "Tracking YT2412345678", "submitEvidence": True}
        )
        assert answered["disputeEvidence"]["dispute"]["status"] == "UNDER_REVIEW"
        assert len(receiver.wait_for(1)) == 1
        escalated = _control(shopify_sandbox, f"disputes/{dispute_gid}/escalate", {"evidence_due_by": due.isoformat()})
        assert escalated.status_code == 200, escalated.text
        deliveries = receiver.wait_for(2)
    answer = escalated.json()
    assert (answer["id"], answer["type"], answer["status"]) == (dispute_gid, "chargeback", "needs_response")
    assert _moment(answer["evidence_due_by"]) == due
    assert (answer["evidence_sent_on"], answer["finalized_on"], answer["submitted"]) == (None, None, False)
    # The webhook: disputes/update with the REST Dispute of the same dispute, now a chargeback.
    assert len(deliveries) == 2
    assert deliveries[1]["headers"]["X-Shopify-Topic"] == "disputes/update"
    body = json.loads(deliveries[1]["body"])
    assert body["id"] == int(before["legacyResourceId"])
    assert (body["type"], body["status"], body["evidence_sent_on"]) == ("chargeback", "needs_response", None)
    assert _moment(body["evidence_due_by"]) == due
    assert _moment(body["initiated_at"]) == _moment(before["initiatedAt"]).replace(microsecond=0)
    # dispute(id) and disputes(...): the same dispute, type CHARGEBACK, needing a response by the new date.
    node = data(shopify_sandbox, documents.load("DisputeById").source, {"id": dispute_gid})["dispute"]
    assert (node["id"], node["type"], node["status"]) == (dispute_gid, "CHARGEBACK", "NEEDS_RESPONSE")
    assert _moment(node["evidenceDueBy"]) == due
    assert _moment(node["evidenceDueBy"]) > _moment(before["evidenceDueBy"])
    assert (node["evidenceSentOn"], node["finalizedOn"]) == (None, None)
    assert node["initiatedAt"] == before["initiatedAt"]
    assert (node["amount"], node["reasonDetails"]) == (before["amount"], before["reasonDetails"])
    assert node["disputeEvidence"]["id"] == evidence_id
    assert node["disputeEvidence"]["submitted"] is False
    needing = data(
        shopify_sandbox, documents.load("DisputesPage").source, {"first": 10, "query": "status:needs_response"}
    )["disputes"]["nodes"]
    assert needing == [node]
    # Order.disputes keeps what the dispute was opened as.
    order = data(shopify_sandbox, ORDER_DISPUTES, {"id": order_gid})["order"]
    assert order["disputes"] == [{"id": dispute_gid, "initiatedAs": "INQUIRY", "status": "NEEDS_RESPONSE"}]
    # The chargeback takes its own answer; what was written for the inquiry is its draft.
    evidence = data(shopify_sandbox, EVIDENCE, {"id": dispute_gid})["dispute"]["disputeEvidence"]
    assert evidence["uncategorizedText"] == "Tracking YT2412345678"
    again = _update(
        shopify_sandbox, evidence_id, {"refundPolicyDisclosure": "Returns within 15 days.", "submitEvidence": True}
    )
    assert again["userErrors"] == []
    assert again["disputeEvidence"]["dispute"]["status"] == "UNDER_REVIEW"
    assert [s["submitted"] for s in shopify_sandbox.control.dispute(dispute_gid)["submissions"]] == [True, True]


def test_an_escalation_without_a_date_gets_a_new_chargebacks_deadline(shopify_sandbox: ShopifySandbox) -> None:
    order_gid = _paid_fulfilled_order(shopify_sandbox)
    dispute_gid = shopify_sandbox.control.open_dispute(order_gid, type="INQUIRY", evidence_due_in_days=4)
    start = shopify_sandbox.state.clock.now()
    number = dispute_gid.rsplit("/", 1)[1]
    escalated = httpx.post(f"{shopify_sandbox.base_url}/_sandbox/disputes/{number}/escalate", timeout=10)  # no body
    end = shopify_sandbox.state.clock.now()
    assert escalated.status_code == 200, escalated.text
    assert (escalated.json()["type"], escalated.json()["status"]) == ("chargeback", "needs_response")
    due = _moment(
        data(shopify_sandbox, documents.load("DisputeById").source, {"id": dispute_gid})["dispute"]["evidenceDueBy"]
    )
    assert start + timedelta(days=14) <= due <= end + timedelta(days=14)  # disputes.EVIDENCE_DAYS, as a new chargeback


def test_escalation_refusals_are_one_line_and_change_nothing(shopify_sandbox: ShopifySandbox) -> None:
    order_gid = _paid_fulfilled_order(shopify_sandbox)
    chargeback = shopify_sandbox.control.open_dispute(order_gid, type="CHARGEBACK", amount="1.00")
    decided = shopify_sandbox.control.open_dispute(order_gid, type="INQUIRY", amount="2.00")
    shopify_sandbox.control.decide_dispute(decided, "WON")
    inquiry = shopify_sandbox.control.open_dispute(order_gid, type="INQUIRY", amount="3.00")
    untouched = {ref: shopify_sandbox.control.dispute(ref) for ref in (chargeback, decided, inquiry)}
    url = f"{shopify_sandbox.base_url}/_sandbox/disputes"
    with Receiver() as receiver:
        shopify_sandbox.control.subscribe("disputes/update", receiver.url)
        for reference in ("123", "gid://shopify/ShopifyPaymentsDispute/123", "not-a-dispute"):
            unknown = _control(shopify_sandbox, f"disputes/{reference}/escalate", {})
            assert unknown.status_code == 404
            assert unknown.json()["error"] == f"no such dispute: {reference}"
        not_inquiry = _control(shopify_sandbox, f"disputes/{chargeback}/escalate", {})
        assert not_inquiry.status_code == 400
        assert "is a CHARGEBACK: only an INQUIRY can be escalated" in not_inquiry.json()["error"]
        finalized = _control(shopify_sandbox, f"disputes/{decided}/escalate", {})
        assert finalized.status_code == 400
        assert "is already WON" in finalized.json()["error"]
        for bad in ("next tuesday", "2026-13-45T00:00:00Z", 5, "2020-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"):
            refused = _control(shopify_sandbox, f"disputes/{inquiry}/escalate", {"evidence_due_by": bad})
            assert refused.status_code == 400, (bad, refused.text)
            assert refused.json()["error"].startswith("evidence_due_by must be"), bad
        far = (shopify_sandbox.state.clock.now() + timedelta(days=61)).isoformat()
        assert _control(shopify_sandbox, f"disputes/{inquiry}/escalate", {"evidence_due_by": far}).status_code == 400
        typo = _control(shopify_sandbox, f"disputes/{inquiry}/escalate", {"evidence_due_on": far})
        assert typo.status_code == 400
        assert typo.json()["error"] == "unknown escalation field(s) evidence_due_on; expected evidence_due_by"
        not_json = httpx.post(f"{url}/{inquiry}/escalate", content=b"{", timeout=10)
        assert not_json.status_code == 400
        not_object = httpx.post(f"{url}/{inquiry}/escalate", json=["2026-12-01"], timeout=10)
        assert not_object.status_code == 400
        assert shopify_sandbox.control.wait_for_webhooks()
        assert receiver.deliveries == []  # nothing changed, nothing sent
    assert {ref: shopify_sandbox.control.dispute(ref) for ref in untouched} == untouched
    twice = _control(shopify_sandbox, f"disputes/{inquiry}/escalate", {})
    assert twice.status_code == 200
    assert _control(shopify_sandbox, f"disputes/{inquiry}/escalate", {}).status_code == 400  # a chargeback now
