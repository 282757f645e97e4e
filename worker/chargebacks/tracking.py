"""AliExpress tracking for a chargeback's evidence: the carrier, the tracking number and the carrier's
events (``aliexpress.ds.order.tracking.get``) of every supplier parcel of the disputed order, read once
the dispute is known and kept on the chargeback (typed: ``ParcelTracking``), so the evidence pack is
assembled from the ledger. The carrier's delivery date is the first event that says "delivered"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select

from integrations.aliexpress.client import AliExpressClient
from integrations.aliexpress.errors import AliExpressError
from models import Chargeback, SupplierOrder
from models.types import utcnow
from worker.db import UnitOfWork
from worker.timeline import record_event

log = structlog.get_logger(__name__)
NOT_DELIVERED = ("not delivered", "undelivered", "delivery failed", "failed delivery", "attempt")


@dataclass(frozen=True)
class ParcelTracking:
    supplier_order_id: str
    tracking_number: str
    carrier: str | None
    events: tuple[tuple[dt.datetime | None, str], ...]

    @property
    def shipped_at(self) -> dt.datetime | None:
        return next((at for at, _ in self.events if at is not None), None)

    @property
    def delivered_at(self) -> dt.datetime | None:
        for at, text in self.events:
            words = text.lower()
            if "delivered" in words and not any(no in words for no in NOT_DELIVERED):
                return at
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "supplier_order_id": self.supplier_order_id, "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "events": [{"at": at.isoformat() if at else None, "description": text} for at, text in self.events],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParcelTracking:
        events = tuple(
            (dt.datetime.fromisoformat(e["at"]) if e.get("at") else None, str(e.get("description", "")))
            for e in data.get("events", [])
        )
        return cls(data["supplier_order_id"], data["tracking_number"], data.get("carrier"), events)


def of(row: Chargeback) -> list[ParcelTracking]:
    return [ParcelTracking.from_dict(item) for item in row.supplier_tracking]


def snapshot(sessions: UnitOfWork, chargeback_id: int, client: AliExpressClient) -> int:
    """Read the tracking of every supplier order of the chargeback's order and keep it. Returns the parcel
    count; a supplier order whose read fails keeps what was stored before for it (logged), never fails the
    caller."""
    with sessions() as session:
        row = session.get_one(Chargeback, chargeback_id)
        ids = list(
            session.scalars(select(SupplierOrder.supplier_order_id).where(SupplierOrder.order_id == row.order_id))
        ) if row.order_id else []  # fmt: skip
    parcels: list[ParcelTracking] = []
    unread: set[str] = set()
    for supplier_order_id in ids:
        try:
            found = client.get_tracking(supplier_order_id)
        except AliExpressError as exc:  # keep what an earlier read stored for this supplier order
            log.warning(
                "tracking not read for chargeback evidence", supplier_order_id=supplier_order_id, error=str(exc)
            )
            unread.add(supplier_order_id)
            continue
        for p in found:
            events = tuple((e.at, e.description) for e in p.events)
            parcels.append(ParcelTracking(supplier_order_id, p.tracking_number, p.carrier, events))
    with sessions() as session:
        row = session.get_one(Chargeback, chargeback_id)
        parcels += [p for p in of(row) if p.supplier_order_id in unread]
        row.supplier_tracking = [p.to_dict() for p in parcels]
        row.supplier_tracking_at = utcnow()
        if parcels:
            delivered = [p for p in parcels if p.delivered_at]
            record_event(
                session, shop_id=row.shop_id, order_id=row.order_id, kind="chargeback.tracking_read",
                actor="aliexpress",
                message=f"AliExpress tracking read for the chargeback's evidence: {len(parcels)} parcel(s), "
                f"{len(delivered)} delivered by the carrier",
                data={"chargeback_id": row.id, "parcels": [p.tracking_number for p in parcels]},
            )  # fmt: skip
    return len(parcels)
