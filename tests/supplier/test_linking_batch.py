"""Set-based linking: a batch of orders is linked with a fixed number of statements, never per order,
with the same outcome as linking each order alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from models import LineItem, Order, SupplierOrder, SupplierOrderItem, TimelineEvent
from tests.supplier.factories import make_order, make_shop
from worker.supplier.linking import Candidate, link_from_order_attributes, link_orders
from worker.supplier.service import link_supplier_order


def _candidate(order: Order) -> Candidate:
    return Candidate.of(order.id, order.shop_id, order.name, order.currency, order.note_attributes, order.tags)


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        # A staging table's upkeep (created once per database session, emptied before a second use in one
        # transaction) depends on what the pooled connection did before, not on the batch: not counted.
        if not statement.startswith(("CREATE TEMPORARY TABLE", "DELETE FROM stage_")):
            seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _outcome(session: Session, orders: list[Order]) -> list[tuple[Any, ...]]:
    """What a person sees per order, independent of row ids: links, items, timeline messages."""
    out: list[tuple[Any, ...]] = []
    for position, order in enumerate(orders):
        links = session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).all()
        items = sorted(
            (so.supplier_order_id, line.title, item.quantity)
            for so in links
            for item, line in session.execute(
                select(SupplierOrderItem, LineItem)
                .join(LineItem, LineItem.id == SupplierOrderItem.line_item_id)
                .where(SupplierOrderItem.supplier_order_id == so.id)
            )
        )
        events = session.scalars(
            select(TimelineEvent.message).where(TimelineEvent.order_id == order.id).order_by(TimelineEvent.id)
        ).all()
        messages = [m.replace(order.name, "#ORDER") for m in events]
        out.append((position, sorted(so.supplier_order_id for so in links), items, messages))
    return out


def _orders(session: Session, prefix: str) -> list[Order]:
    """One of each case; ``prefix`` keeps AliExpress ids apart between two shops."""
    shop = make_shop(session)
    partly = make_order(session, shop, lines=[("Case", 3), ("Cable", 1)],
                        note_attributes={"aliexpress_order_id": f"{prefix}00000000000003"})  # fmt: skip
    orders = [
        make_order(session, shop, note_attributes={"aliexpress_order_id": f"{prefix}00000000000001"}),
        make_order(session, shop, tags=[f"aliexpress:{prefix}00000000000002", "vip"]),
        make_order(session, shop, note_attributes={"ae_order_id": f"{prefix}00000000000004, {prefix}00000000000005"}),
        make_order(session, shop, note_attributes={"aliexpress_order_id": "oops oops"}),
        make_order(session, shop, note_attributes={"aliexpress_order_id": f"{prefix}00000000000001"}),  # taken
        make_order(session, shop),
        partly,
    ]
    # Before the mirror sees it, a person linked another AliExpress order for 2 of the 3 cases.
    case = partly.line_items[0]
    link_supplier_order(session, partly, f"{prefix}00000000000009", [(case, 2)], "operator:ann")
    return orders


def test_a_batch_links_like_one_order_at_a_time(session: Session) -> None:
    batch, alone = _orders(session, "81"), _orders(session, "82")
    link_orders(session, [_candidate(o) for o in batch])
    for order in alone:
        link_from_order_attributes(session, order)
    session.expire_all()
    assert repr(_outcome(session, batch)) == repr(_outcome(session, alone)).replace("82000", "81000")
    single, _tagged, several, unreadable, taken, plain, partly = _outcome(session, batch)
    assert single[2] == [("8100000000000001", "Cable", 1), ("8100000000000001", "Phone case", 2)]
    assert several[2] == []
    assert len(several[3]) == 4
    assert unreadable[3] == ["ignored 'oops' in the order's AliExpress reference: not an order number"]
    assert taken[1] == []
    assert "already linked to another order" in taken[3][0]
    assert plain[1:] == ([], [], [])
    assert ("8100000000000003", "Case", 1) in partly[2]  # what the person's link left


def test_re_linking_a_batch_adds_nothing(session: Session) -> None:
    orders = _orders(session, "83")
    link_orders(session, [_candidate(o) for o in orders])
    before = _outcome(session, orders)
    result = link_orders(session, [_candidate(o) for o in orders])
    assert result.new == 0
    assert _outcome(session, orders) == before


def test_statements_do_not_grow_with_the_batch(session: Session) -> None:
    shop = make_shop(session)

    def batch(size: int, start: int) -> list[Candidate]:
        orders = [
            make_order(session, shop, note_attributes={"aliexpress_order_id": f"84{start + n:014d}"})
            for n in range(size)
        ]
        return [_candidate(o) for o in orders]

    small, large = batch(70, 0), batch(210, 1000)  # both above bulk.COPY_MIN_ROWS: the same path
    with _statements(session) as few:
        assert link_orders(session, small).new == 70
    with _statements(session) as many:
        assert link_orders(session, large).new == 210
    assert len(many) == len(few) <= 12, many
