"""What needs a person now, in one list: cross-check disagreements, supplier deadlines, open alerts.

Read-only. ``dropsync check`` and ``dropsync deadlines --json`` both show it. Most urgent first:
critical before warning before info, then overdue before upcoming, then by due time. Each item names its
shop and order and, where one exists, the command that acts on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Alert, Order, Shop, SupplierOrder
from worker.cancellation.intents import overdue_intents
from worker.crosscheck.service import PREFIX, candidate_order_ids, findings_for, settings_from_env
from worker.deadlines.alerts import needing_attention
from worker.deadlines.rules import DeadlinePolicy

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Item:
    source: str  # crosscheck | deadline | alert
    shop: str
    order: str | None
    supplier_order: str | None
    kind: str
    severity: str
    due_at: dt.datetime | None
    message: str
    command: str | None
    alert_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _urgency(now: dt.datetime) -> Any:
    far = dt.datetime.max.replace(tzinfo=dt.UTC)

    def key(item: Item) -> tuple[int, bool, dt.datetime]:
        due = item.due_at or far
        return (SEVERITY_ORDER.get(item.severity, 3), due > now, due)

    return key


def attention(session: Session, now: dt.datetime, shop_id: int | None = None) -> list[Item]:
    """Everything that needs a person at ``now`` (in one shop, or all), most urgent first."""
    domains = {s.id: s.domain for s in session.scalars(select(Shop))}
    open_alerts = {a.dedupe_key: a for a in session.scalars(select(Alert).where(Alert.resolved_at.is_(None)))}
    items: list[Item] = []
    order_ids = candidate_order_ids(session, now)
    for f in findings_for(session, order_ids, now, settings_from_env()):
        d, alert = f.disagreement, open_alerts.pop(f.dedupe_key, None)
        items.append(Item("crosscheck", domains.get(f.order.shop_id, "?"), f.order.name, f.supplier_order, d.rule,
                          d.severity, d.due_at, d.message, d.command, alert.id if alert else None))  # fmt: skip
    for a in needing_attention(session, now, DeadlinePolicy.from_settings()):
        so, fi, alert = a.supplier_order, a.finding, open_alerts.pop(a.dedupe_key, None)
        command = f"dropsync supplier show {so.supplier_order_id}"
        items.append(Item("deadline", domains.get(so.shop_id, "?"), a.order_name, so.supplier_order_id,
                          fi.kind if fi.kind in ("status_unknown", "poll_failing") else f"{fi.kind}_{fi.stage}",
                          fi.severity, fi.due_at, fi.message, command, alert.id if alert else None))  # fmt: skip
    items += _other_alerts(session, open_alerts, domains)
    items += _overdue_actions(session, now, domains)
    if shop_id is not None:
        items = [i for i in items if i.shop == domains.get(shop_id)]
    return sorted(items, key=_urgency(now))


def _overdue_actions(session: Session, now: dt.datetime, domains: dict[int, str]) -> list[Item]:
    """Shopify actions whose retry is overdue (a lost message, beat not running): shown at once, before
    the sweeper's dispatch limit turns them into an alert."""
    intents = overdue_intents(session, now)
    names = dict(session.execute(select(Order.id, Order.name).where(Order.id.in_({i.order_id for i in intents}))).all())
    items = []
    for intent in intents:
        due = intent.next_attempt_at or intent.submitted_at or intent.created_at
        message = (f"Shopify {intent.kind} intent {intent.id} is {intent.state} and overdue since {due:%H:%M:%S} UTC: "
                   "is beat running?")  # fmt: skip
        items.append(Item("intent", domains.get(intent.shop_id, "?"), names.get(intent.order_id), None,
                          "shopify_action_overdue", "critical", due, message,
                          f"dropsync intents retry {intent.id}", None))  # fmt: skip
    return items


def _other_alerts(session: Session, alerts: dict[str, Alert], domains: dict[int, str]) -> list[Item]:
    """Open alerts no rule above accounts for: other features' kinds (a crosscheck or deadline alert whose
    condition is gone is resolved by its own run, so it is not shown as if it were still true)."""
    rest = [
        a for key, a in alerts.items() if not key.startswith((PREFIX, "deadline:", "status_unknown:", "poll_failing:"))
    ]
    order_ids = {a.order_id for a in rest if a.order_id}
    so_ids = {a.supplier_order_id for a in rest if a.supplier_order_id}
    name_rows = session.execute(select(Order.id, Order.name).where(Order.id.in_(order_ids)))
    names: dict[int, str] = {row.id: row.name for row in name_rows}
    number_rows = session.execute(
        select(SupplierOrder.id, SupplierOrder.supplier_order_id).where(SupplierOrder.id.in_(so_ids))
    )
    numbers: dict[int, str] = {row.id: row.supplier_order_id for row in number_rows}
    return [
        Item("alert", domains.get(a.shop_id, "?"), names.get(a.order_id) if a.order_id else None,
             numbers.get(a.supplier_order_id) if a.supplier_order_id else None, a.kind, a.severity, a.due_at,
             a.message, a.command, a.id)
        for a in rest
    ]  # fmt: skip
