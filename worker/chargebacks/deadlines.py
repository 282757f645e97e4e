"""The evidence deadline of a chargeback (``evidenceDueBy``): alerts through the same ``alerts`` table,
timeline event, log line and ``dropsync_alerts_raised_total`` counter as every supplier deadline.

A missed ``evidenceDueBy`` loses the dispute. While a dispute needs a response it alerts three times,
each once (``Alert.dedupe_key`` = ``chargeback:{stage}:{chargeback id}:{due}``): when it opens
(``chargeback_needs_response``, due at the deadline), when the deadline is near
(``DROPSYNC_CHARGEBACK_WARNING_DAYS``) and when it has passed. Evidence sent or the dispute decided
resolves them all. A moved deadline alerts again.
"""

from __future__ import annotations

import datetime as dt

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Alert, Chargeback
from worker.money import round_money

log = structlog.get_logger(__name__)

OPEN, NEAR, PASSED = "needs_response", "evidence_due_near", "evidence_due_passed"
PREFIX = "chargeback:"


def _warning() -> dt.timedelta:
    from worker.settings import get_settings

    return dt.timedelta(days=get_settings().chargeback_warning_days)


def findings(row: Chargeback, now: dt.datetime, warning: dt.timedelta) -> list[tuple[str, str, str]]:
    """(stage, severity, message) of each alert the chargeback deserves at ``now`` (pure)."""
    due = row.evidence_due_by
    if row.status != "NEEDS_RESPONSE" or row.evidence_sent_on is not None or due is None:
        return []
    what = f"{row.dispute_type.lower()} {row.reason} for {round_money(row.amount, row.currency)} {row.currency}"
    out = [(OPEN, "warning", f"{what}: evidence due by {due:%Y-%m-%d %H:%M} UTC; review the evidence pack "
                             "(dropsync chargebacks show ORDER)")]  # fmt: skip
    if now >= due:
        out.append((PASSED, "critical", f"{what}: the evidence deadline passed: the dispute will be lost"))
    elif now >= due - warning:
        left = due - now
        hours = int(left.total_seconds() // 3600)
        out.append((NEAR, "critical", f"{what}: evidence due in {hours} h: submit it (dropsync chargebacks submit)"))
    return out


def sync_alerts(session: Session, row: Chargeback, now: dt.datetime, warning: dt.timedelta | None = None) -> int:
    """Raise what ``row`` deserves now (each once), resolve what it no longer does. Flushes only."""
    wanted = findings(row, now, warning if warning is not None else _warning())
    keys = {f"{PREFIX}{stage}:{row.id}:{row.evidence_due_by:%Y-%m-%dT%H:%M}": (stage, severity, message)
            for stage, severity, message in wanted}  # fmt: skip
    raised = sum(1 for key, finding in keys.items() if _raise(session, row, key, *finding, now))
    for alert in session.scalars(
        select(Alert).where(Alert.resolved_at.is_(None), Alert.dedupe_key.startswith(f"{PREFIX}"))
    ):
        if alert.dedupe_key.split(":")[2] == str(row.id) and alert.dedupe_key not in keys:
            alert.resolved_at = now
    session.flush()
    return raised


def sync_all(session: Session, now: dt.datetime) -> int:
    """Every chargeback still needing a response, plus those whose alerts are still open (beat)."""
    open_ids = {
        int(key.split(":")[2])
        for key in session.scalars(
            select(Alert.dedupe_key).where(Alert.resolved_at.is_(None), Alert.dedupe_key.startswith(PREFIX))
        )
    }
    rows = session.scalars(
        select(Chargeback).where((Chargeback.status == "NEEDS_RESPONSE") | Chargeback.id.in_(open_ids))
    ).all()
    warning = _warning()
    return sum(sync_alerts(session, row, now, warning) for row in rows)


def _raise(
    session: Session, row: Chargeback, key: str, stage: str, severity: str, message: str, now: dt.datetime
) -> bool:
    """Through the one alert path (timeline, log, metric, notifications): False when raised before."""
    from worker.alerts import AlertSpec, raise_alert

    subject = f"chargeback {row.id}"
    spec = AlertSpec(row.shop_id, row.order_id, None, f"chargeback_{stage}", severity, message, row.evidence_due_by,
                     key, subject)  # fmt: skip
    return raise_alert(session, spec, now, actor="chargebacks") is not None
