"""The evidence pack per reason holds the right facts from the ledger, and the recommendation joins both sides."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Chargeback, Order, Shop, SupplierOrder
from sandboxes.aliexpress import AliExpressSandbox
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.chargebacks.conftest import fulfilled_order, open_and_read
from tests.support.cli import InProcess
from worker.cancellation import service as cancellation
from worker.chargebacks import evidence, recommend, service, tracking
from worker.db import session_scope
from worker.supplier import polling
from worker.supplier import service as supplier

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _pack(row: Chargeback) -> evidence.Pack:
    with session_scope() as session:
        return evidence.build_pack(session, session.get_one(Chargeback, row.id))


def _supplier(aliexpress: AliExpressSandbox, tracking_number: str, *, delivered: bool) -> str:
    """An AliExpress order shipped with ``tracking_number`` (and delivered by the carrier)."""
    oid = aliexpress.paid_order("12.40")
    aliexpress.ship(oid, tracking_number)
    if delivered:
        aliexpress.deliver(oid)
    return oid


def _link(aliexpress: AliExpressSandbox, order_id: int, oid: str) -> None:
    """Linked (as the mirror does from the order's note attribute) and polled once."""
    with session_scope() as session:
        so = supplier.link_supplier_order(session, session.get_one(Order, order_id), oid, None, "operator:test")
        with aliexpress.client() as ae:
            polling.poll_supplier_order(session, so, ae, aliexpress.clock.now())


def _read_tracking(aliexpress: AliExpressSandbox, row: Chargeback) -> None:
    with aliexpress.client() as ae:
        assert tracking.snapshot(session_scope, row.id, ae) == 1


def test_not_received_pack_carries_supplier_tracking_carrier_dates_and_the_shopify_fulfillment(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, aliexpress_sandbox: AliExpressSandbox
) -> None:
    oid = _supplier(aliexpress_sandbox, "LP00CHARGE001CN", delivered=True)
    gid = fulfilled_order(sandbox, tracking="YT0000000001", aliexpress_order_id=oid)
    order_id = mirror(client, shop.id, gid)
    _link(aliexpress_sandbox, order_id, oid)
    row = open_and_read(sandbox, client, shop.id, gid, "PRODUCT_NOT_RECEIVED")
    # The poller already sees the carrier's scan (logistics_status DELIVERED); the tracking read adds the events.
    assert "the carrier has not reported delivery" not in _pack(row).missing
    _read_tracking(aliexpress_sandbox, row)
    pack = _pack(row)
    events = aliexpress_sandbox.order(oid).tracking[0]["events"]
    assert pack.kind == evidence.NOT_RECEIVED
    assert pack.missing == ()
    [parcel] = pack.parcels
    assert (parcel.supplier_order_id, parcel.tracking_number, parcel.carrier) == (oid, "LP00CHARGE001CN", "CAINIAO")
    assert parcel.shipped_at == events[0][0]  # "accepted by the carrier"
    assert parcel.delivered_at == events[-1][0]  # the carrier's "Delivered" event
    assert [f["shippingTrackingNumber"] for f in pack.shopify_fulfillments] == ["YT0000000001"]
    text = pack.input["uncategorizedText"]
    assert "LP00CHARGE001CN" in text
    assert "CAINIAO" in text
    assert f"delivered on {parcel.delivered_at:%Y-%m-%d}" in text
    assert "YunExpress tracking YT0000000001" in text
    assert evidence.Pack.from_dict(pack.to_dict()) == pack  # typed round trip through the JSON column
    with session_scope() as session:
        advice = service.recommendation_for(session, session.get_one(Chargeback, row.id), NOW)
    assert advice.action == recommend.FIGHT


def test_unacceptable_pack_quotes_the_policy_as_explained_and_the_refusal(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published, cli: InProcess
) -> None:
    code, explained, _ = cli("policy", "explain")
    assert code == 0
    gid = fulfilled_order(sandbox)
    order_id = mirror(client, shop.id, gid)
    with session_scope() as session:
        request = cancellation.create_request(session, session.get_one(Order, order_id), reason="changed_mind",
                                              actor="operator:test")  # fmt: skip
        decision = dict(request.policy_decision or {})
    assert decision["action"] == "deny"
    row = open_and_read(sandbox, client, shop.id, gid, "PRODUCT_UNACCEPTABLE")
    pack = _pack(row)
    assert pack.policy_text == explained.rstrip("\n")  # exactly what `dropsync policy explain` prints
    assert pack.policy_version == decision["policy_version"]
    assert pack.input["refundPolicyDisclosure"] == pack.policy_text
    assert pack.refusal is not None
    for reason in decision["reasons"]:
        assert str(reason).rstrip(".") in pack.refusal
    assert pack.input["refundRefusalExplanation"] == pack.refusal
    assert "changed mind" in pack.refusal


def test_credit_not_processed_pack_lists_the_refunds_with_their_shopify_ids(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop
) -> None:
    gid = sandbox.control.create_order(status="partially_refunded")
    order_id = mirror(client, shop.id, gid)
    row = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED")
    pack = _pack(row)
    with session_scope() as session:
        refunds = [(r.shopify_gid, r.total_refunded) for r in session.get_one(Order, order_id).refunds]
    assert refunds
    assert [(r["id"], Decimal(r["amount"])) for r in pack.refunds] == refunds
    for refund_gid, _ in refunds:
        assert refund_gid in pack.input["uncategorizedText"]
    assert pack.missing == ()
    with session_scope() as session:
        advice = service.recommendation_for(session, session.get_one(Chargeback, row.id), NOW)
    assert advice.action == recommend.SHOW_REFUND
    assert list(advice.refunds) == [gid for gid, _ in refunds]


def test_credit_not_processed_without_a_refund_never_tells_the_bank_none_was_issued(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published
) -> None:
    """Played: a credit-not-processed chargeback on an order never refunded. The pack used to send the bank
    "No refund has been issued for this order.": the customer's own claim, in the store's evidence. With a
    refusal on record it sends the refusal; with none it sends nothing of its own and says what it lacks."""
    gid = fulfilled_order(sandbox)
    order_id = mirror(client, shop.id, gid)
    row = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED")
    bare = _pack(row)
    assert "uncategorizedText" not in bare.input
    assert "refundRefusalExplanation" not in bare.input
    assert len(bare.missing) == 1
    assert "no refund" in bare.missing[0]
    with session_scope() as session:
        request = cancellation.create_request(session, session.get_one(Order, order_id), reason="changed_mind",
                                              actor="operator:test")  # fmt: skip
        assert (request.policy_decision or {})["action"] == "deny"
    refused = _pack(row)
    assert refused.missing == ()
    assert refused.refusal is not None
    assert refused.input["refundRefusalExplanation"] == refused.refusal
    assert "uncategorizedText" not in refused.input


def test_a_parcel_that_never_arrived_under_open_protection_means_accept_and_dispute_the_supplier(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, aliexpress_sandbox: AliExpressSandbox
) -> None:
    oid = _supplier(aliexpress_sandbox, "LP00LOST0001CN", delivered=False)
    gid = fulfilled_order(sandbox, aliexpress_order_id=oid)
    order_id = mirror(client, shop.id, gid)
    _link(aliexpress_sandbox, order_id, oid)
    with session_scope() as session:
        ends = session.scalars(select(SupplierOrder.protection_ends_at)).one()
    assert ends is not None
    row = open_and_read(sandbox, client, shop.id, gid, "PRODUCT_NOT_RECEIVED")
    _read_tracking(aliexpress_sandbox, row)
    with session_scope() as session:
        advice = service.recommendation_for(session, session.get_one(Chargeback, row.id), ends - dt.timedelta(days=10))
        late = service.recommendation_for(session, session.get_one(Chargeback, row.id), ends + dt.timedelta(days=1))
    assert advice.action == recommend.ACCEPT_AND_DISPUTE
    assert advice.aliexpress_dispute_by == ends - recommend.DISPUTE_MARGIN
    assert any(f"dropsync dispute open {oid} --reason not_received" in step for step in advice.steps)
    assert late.action == recommend.ACCEPT
    assert "the carrier has not reported delivery" in _pack(row).missing


def test_a_supplier_order_not_read_yet_is_never_advised_as_protection_over(
    sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, aliexpress_sandbox: AliExpressSandbox
) -> None:
    """Played with `dropsync up`: a chargeback arrived before the first AliExpress poll of the order's
    supplier order; `chargebacks show` advised "buyer protection has ended: accept" on a parcel shipped
    four days earlier. Unknown is not over: poll first."""
    oid = _supplier(aliexpress_sandbox, "LP00FRESH001CN", delivered=False)
    gid = fulfilled_order(sandbox, aliexpress_order_id=oid)
    order_id = mirror(client, shop.id, gid)
    with session_scope() as session:  # linked as the mirror links it, not polled yet
        supplier.link_supplier_order(session, session.get_one(Order, order_id), oid, None, "mirror")
    row = open_and_read(sandbox, client, shop.id, gid, "PRODUCT_NOT_RECEIVED")
    with session_scope() as session:
        advice = service.recommendation_for(session, session.get_one(Chargeback, row.id), NOW)
    assert advice.action == recommend.REVIEW, advice.summary
    assert "ended" not in advice.summary
    assert f"dropsync supplier poll {oid}" in advice.steps
    # once polled, protection is known and the usual advice comes back
    with session_scope() as session, aliexpress_sandbox.client() as ae:
        so = session.scalars(select(SupplierOrder)).one()
        polling.poll_supplier_order(session, so, ae, aliexpress_sandbox.clock.now())
    with session_scope() as session:
        now = aliexpress_sandbox.clock.now()
        advice = service.recommendation_for(session, session.get_one(Chargeback, row.id), now)
    assert advice.action == recommend.ACCEPT_AND_DISPUTE, advice.summary


def test_recommendation_rules() -> None:
    side = recommend.SupplierSide("1", "awaiting_shipment", False, None, None, None, False)
    never = recommend.recommend(reason="PRODUCT_NOT_RECEIVED", status="NEEDS_RESPONSE", amount=Decimal(10),
                                refunded=Decimal(0), refund_ids=[], suppliers=[side], refusal_on_record=False,
                                now=NOW)  # fmt: skip
    assert never.action == recommend.ACCEPT_AND_DISPUTE
    assert "never shipped" in never.summary
    decided = recommend.recommend(reason="PRODUCT_NOT_RECEIVED", status="WON", amount=Decimal(10), refunded=Decimal(0),
                                  refund_ids=[], suppliers=[side], refusal_on_record=False, now=NOW)  # fmt: skip
    assert decided.action == recommend.REVIEW
    refunded = recommend.recommend(reason="PRODUCT_NOT_RECEIVED", status="NEEDS_RESPONSE", amount=Decimal(10),
                                   refunded=Decimal(10), refund_ids=["gid://shopify/Refund/1"], suppliers=[side],
                                   refusal_on_record=False, now=NOW)  # fmt: skip
    assert refunded.action == recommend.SHOW_REFUND


def test_past_the_evidence_deadline_nothing_is_advised_to_be_sent() -> None:
    shipped = recommend.SupplierSide("1", "delivered", True, NOW, NOW, None, False)
    common = {"reason": "PRODUCT_NOT_RECEIVED", "status": "NEEDS_RESPONSE", "amount": Decimal(10),
              "refunded": Decimal(0), "refund_ids": [], "refusal_on_record": False, "order": "'#1001'"}  # fmt: skip
    fight = recommend.recommend(**common, suppliers=[shipped], now=NOW, evidence_due_by=NOW + dt.timedelta(hours=1),
                                dispute="42")  # type: ignore[arg-type]  # fmt: skip
    assert fight.action == recommend.FIGHT
    assert "dropsync chargebacks submit '#1001' --dispute 42" in fight.steps
    late = recommend.recommend(**common, suppliers=[shipped], now=NOW, evidence_due_by=NOW)  # type: ignore[arg-type]
    assert (late.action, late.steps) == (recommend.ACCEPT, ())
    # a supplier order in dispute that never shipped is still "never shipped", and the dispute is not asked again
    disputed = recommend.SupplierSide("1", "in_dispute", False, None, None, None, True)
    advice = recommend.recommend(**common, suppliers=[disputed], now=NOW, evidence_due_by=NOW)  # type: ignore[arg-type]
    assert advice.action == recommend.ACCEPT_AND_DISPUTE
    assert not any("dispute open" in step for step in advice.steps)
