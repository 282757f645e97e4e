"""Who reacts to what for chargebacks, in one place (the integrator wires this module explicitly).

- ``disputes/create`` and ``disputes/update`` webhooks → the dispute is merged into the ledger at once
  from the REST body, and a ``chargebacks.refresh`` task is queued (outbox) to read ``dispute(id)`` for
  what the webhook lacks: the evidence's id, whether it was submitted, the order's fulfillments;
- an order applied by the mirror → chargebacks that arrived before their order are linked to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.orm import Session

from models import WebhookDelivery
from worker import outbox
from worker.chargebacks import mirror
from worker.mirror.apply import AppliedOrder

log = structlog.get_logger(__name__)

REFRESH_TASK = "chargebacks.refresh"


def dispute_changed(session: Session, delivery: WebhookDelivery) -> None:
    try:
        facts = mirror.from_rest(delivery.payload)
    except mirror.DisputePayloadError as exc:
        log.warning("dispute webhook not applied", error=str(exc), delivery=delivery.delivery_id)
        return
    row = mirror.apply_dispute(session, delivery.shop_id, facts, actor="shopify:webhook")
    outbox.enqueue(session, REFRESH_TASK, [row.shop_id, row.dispute_gid], dedupe_key=f"{REFRESH_TASK}:{delivery.id}")


def link_chargebacks(session: Session, shop_id: int, applied: Sequence[AppliedOrder]) -> None:
    created = {a.gid: a.order_id for a in applied if a.previous is None}
    if created:
        mirror.link_orders(session, shop_id, created)
