"""Auto-linking from the Shopify order's note attributes and tags, and the ``--items`` syntax."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import SupplierOrder, TimelineEvent
from tests.supplier.factories import make_order
from worker.errors import UsageError
from worker.supplier.linking import link_from_order_attributes, parse_items, supplier_ids_on_order


@pytest.mark.parametrize(
    "attributes",
    [
        {"aliexpress_order_id": "8123456789012345"},
        [{"key": "aliexpress_order_id", "value": "8123456789012345"}],
        [{"name": "AliExpress Order Number", "value": " 8123456789012345 "}],
        {"ae_order_id": "8123456789012345", "gift_note": "happy birthday"},
    ],
)
def test_note_attribute_forms(session, attributes) -> None:
    order = make_order(session, note_attributes=attributes)
    (so,) = link_from_order_attributes(session, order)
    assert so.supplier_order_id == "8123456789012345"
    assert so.order_id == order.id
    assert sum(i.quantity for i in so.items) == sum(li.quantity for li in order.line_items)


def test_tag_form(session) -> None:
    order = make_order(session, tags=["vip", "aliexpress:8123456789012345", "AE#8100000000000009"])
    assert supplier_ids_on_order(order) == (["8123456789012345", "8100000000000009"], [])


def test_calling_again_links_nothing_new(session) -> None:
    order = make_order(session, note_attributes={"aliexpress_order_id": "8123456789012345"})
    first = link_from_order_attributes(session, order)
    second = link_from_order_attributes(session, order)
    assert [s.id for s in first] == [s.id for s in second]
    linked = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "supplier.linked")).all()
    assert len(linked) == 1


def test_several_ids_are_linked_without_items_and_a_person_is_asked(session) -> None:
    order = make_order(session, note_attributes={"aliexpress_order_id": "8100000000000001, 8100000000000002"})
    linked = link_from_order_attributes(session, order)
    assert [s.supplier_order_id for s in linked] == ["8100000000000001", "8100000000000002"]
    assert all(s.items == [] for s in linked)
    notes = session.scalars(select(TimelineEvent.message).where(TimelineEvent.kind == "supplier.link_note")).all()
    assert len(notes) == 2
    assert "--items" in notes[0]


def test_bad_values_and_conflicts_are_noted_never_raised(session) -> None:
    first = make_order(session, note_attributes={"aliexpress_order_id": "8123456789012345"})
    link_from_order_attributes(session, first)
    second = make_order(session, note_attributes={"aliexpress_order_id": "8123456789012345 not-a-number"})
    second.shop_id = first.shop_id
    session.flush()
    assert link_from_order_attributes(session, second) == []
    notes = session.scalars(
        select(TimelineEvent.message).where(
            TimelineEvent.order_id == second.id, TimelineEvent.kind == "supplier.link_note"
        )
    ).all()
    assert any("not-a-number" in n for n in notes)
    assert any("already linked" in n for n in notes)


def test_parse_items_by_position_sku_and_gid(session) -> None:
    order = make_order(session, lines=[("Case", 3), ("Cable", 1)])
    case, cable = order.line_items
    assert parse_items(order, "1:2") == [(case, 2)]
    assert parse_items(order, "SKU-CABLE") == [(cable, 1)]
    assert parse_items(order, f"{case.shopify_gid}:1, 2") == [(case, 1), (cable, 1)]
    with pytest.raises(UsageError, match="no line '7' in order"):
        parse_items(order, "7:1")
    with pytest.raises(UsageError, match="at least one"):
        parse_items(order, " , ")


def test_recent_orders_sweep_links_once_and_notes_once(session) -> None:
    import datetime as dt

    from worker.supplier.linking import link_recent_orders

    good = make_order(session, note_attributes={"aliexpress_order_id": "8123456789012345"})
    bad = make_order(session, tags=["aliexpress:oops"])
    plain = make_order(session)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=15)
    assert link_recent_orders(session, since) == 1
    assert link_recent_orders(session, since) == 0
    assert [s.order_id for s in session.scalars(select(SupplierOrder))] == [good.id]
    notes = session.scalars(select(TimelineEvent.order_id).where(TimelineEvent.kind == "supplier.link_note")).all()
    assert notes == [bad.id]
    assert plain.id not in notes
