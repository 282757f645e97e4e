"""Finding an order the way operators name it: ``#1001``, ``1001``, a numeric id or a GID, in a shop.

The one place every command resolves an order. With several shops a name like ``#1001`` can exist in
each: say which with ``--shop acme`` (or ``acme.myshopify.com``) or as ``acme:#1001``; an ambiguous
reference is an error that lists the shops holding it, never a silent pick.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models import LineItem, Order, Shop
from worker.errors import NotFoundError, UsageError
from worker.shops import normalize_domain

ORDER_GID_PREFIX = "gid://shopify/Order/"
T = TypeVar("T")


def resolve_shop(session: Session, name: str) -> Shop:
    """A shop by domain (``acme`` means ``acme.myshopify.com``); unknown → an error listing the shops."""
    domain = normalize_domain(name)
    shop = session.scalar(select(Shop).where(Shop.domain == domain))
    if shop is None:
        known = ", ".join(session.scalars(select(Shop.domain).order_by(Shop.domain))) or "none"
        raise NotFoundError(f"unknown shop {name!r} (shops: {known})")
    return shop


def split_shop(ref: str) -> tuple[str | None, str]:
    """``acme:#1001`` → (``acme``, ``#1001``); a GID or a plain reference has no shop part."""
    ref = ref.strip()
    if ref.startswith("gid://") or ":" not in ref:
        return None, ref
    shop, _, rest = ref.rpartition(":")
    return (shop.strip() or None), rest.strip()


def resolve_order(session: Session, ref: str, shop_id: int | None = None, *, shop: str | None = None) -> Order:
    """The order named by ``ref`` (in ``shop`` / ``shop_id`` when given); unknown or ambiguous → an error."""
    prefix, ref = split_shop(ref)
    if prefix and shop and normalize_domain(prefix) != normalize_domain(shop):
        raise UsageError(f"{prefix}:{ref} names shop {prefix!r} but --shop says {shop!r}")
    if prefix or shop:
        shop_id = resolve_shop(session, prefix or shop or "").id
    if not ref:
        raise UsageError("an order reference is required (#1001, a numeric id or a GID)")
    query = select(Order)
    if shop_id is not None:
        query = query.where(Order.shop_id == shop_id)
    if ref.startswith("gid://"):
        query = query.where(Order.shopify_gid == ref)
    elif ref.startswith("#"):
        query = query.where(Order.name == ref)
    elif ref.isdigit():
        # A bare number is a Shopify legacy id when one matches, else an order name without the '#'.
        by_id = _unique(session, query.where(Order.legacy_id == int(ref)), ref)
        if by_id is not None:
            return by_id
        query = query.where(Order.name == f"#{ref}")
    else:
        query = query.where(Order.name == ref)
    order = _unique(session, query, ref)
    if order is None:
        raise NotFoundError(f"unknown order {ref!r}")
    return order


def resolve_numbered(
    session: Session, ref: str, model: type[T], noun: str, order_id_of: Callable[[T], int]
) -> T | None:
    """A return or a cancellation request by its id: ``return:7`` / ``request:7``, or a bare ``7``.

    None when ``ref`` names none that way (resolve it as an order). A bare number that is also an order's
    reference (``1002``: that id, or order #1002 of another customer) is refused, naming both: acting on
    the wrong one could refund or cancel someone else.
    """
    ref = ref.strip()
    if ref.lower().startswith(f"{noun}:"):
        number = ref.split(":", 1)[1].strip()
        if not number.isdigit():
            raise UsageError(f"{ref!r}: {noun}: takes a {noun} id ({noun}:7)")
        if (found := session.get(model, int(number))) is None:
            raise NotFoundError(f"no {noun} {number} in the ledger")
        return found
    if not ref.isdigit() or (found := session.get(model, int(ref))) is None:
        return None
    try:
        also: Order | None = resolve_order(session, ref)
    except (NotFoundError, UsageError):
        also = None
    if also is not None and also.id != order_id_of(found):
        theirs = session.scalar(select(Order.name).where(Order.id == order_id_of(found)))
        raise UsageError(
            f"{ref} is both {noun} {ref} (of {theirs}) and order {also.name}: "
            f"write {noun}:{ref} for the {noun}, or '{also.name}' for the order's latest"
        )
    return found


def _unique(session: Session, query: Select[Order], ref: str) -> Order | None:
    found = list(session.scalars(query.order_by(Order.id).limit(20)))
    shops = sorted({o.shop_id for o in found})
    if len(shops) > 1:
        domains = session.scalars(select(Shop.domain).where(Shop.id.in_(shops)).order_by(Shop.domain))
        names = ", ".join(f"{d.split('.')[0]}:{ref}" for d in domains)
        raise UsageError(f"order {ref!r} exists in several shops: {names} (or use --shop)")
    return found[0] if found else None


def shop_domain(session: Session, shop_id: int) -> str:
    return session.get_one(Shop, shop_id).domain


def find_line(order: Order, ref: str) -> LineItem:
    """A line of ``order`` as ``--items`` names it, the same in every command: its position (1, 2, …: the
    ``line`` column of ``dropsync orders show``), its Shopify GID or numeric GID tail, or a SKU unique in
    the order."""
    lines = list(order.line_items)  # ordered by id: the order `orders show` lists them in
    ref = ref.strip()
    if not ref:
        raise UsageError("--items: a line reference is empty (use LINE:QTY,LINE:QTY)")
    if ref.isdigit() and 1 <= int(ref) <= len(lines):
        return lines[int(ref) - 1]
    for line in lines:
        if ref in (line.shopify_gid, line.shopify_gid.rpartition("/")[2]):
            return line
    by_sku = [line for line in lines if line.sku and line.sku == ref]
    if len(by_sku) == 1:
        return by_sku[0]
    known = ", ".join(f"{n} ({line.sku or line.title})" for n, line in enumerate(lines, start=1)) or "none"
    raise UsageError(
        f"--items: no line {ref!r} in order {order.name} (lines: {known}; see the 'line' column of `orders show`)"
    )
