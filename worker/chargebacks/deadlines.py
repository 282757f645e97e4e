"""The evidence deadline of a chargeback (``evidenceDueBy``): alerts through the one alert path
(``worker.alerts``: the ``alerts`` table, timeline event, log line, ``dropsync_alerts_raised_total``,
notifications) like every supplier deadline.

A missed ``evidenceDueBy`` loses the dispute. While a dispute needs a response it has one open alert,
which escalates as the deadline comes (``Alert.dedupe_key`` = ``chargeback:{stage}:{chargeback id}:{due}``,
each raised once): ``chargeback_needs_response`` when it opens (warning, due at the deadline),
``chargeback_evidence_due_near`` once within ``DROPSYNC_CHARGEBACK_WARNING_DAYS`` and
``chargeback_evidence_due_passed`` once it has passed (both critical). Each stage resolves the one before
it, as a supplier deadline's "passed" resolves its "near": one deadline is one open alert, so it counts
once in ``dropsync_deadlines_due`` and, passed, once in ``dropsync_deadlines_overdue``. Evidence sent or
the dispute decided resolves it; a moved deadline alerts again.

Each alert carries the command to run (``Alert.command``, shown by ``dropsync check`` and in the
notification): ``dropsync chargebacks show ORDER`` to review, ``dropsync chargebacks submit ORDER`` when the
deadline is near (with ``--dispute`` when the order has more than one dispute), ``dropsync sync reconcile``
while the order is not mirrored yet. A dispute linked to its order later takes its open alert along (the
order and the command follow).
"""

from __future__ import annotations

import datetime as dt

import structlog
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from models import Alert, Chargeback
from worker.alerts import AlertSpec, raise_alert, resolve_alert
from worker.money import round_money

log = structlog.get_logger(__name__)

OPEN, NEAR, PASSED = "needs_response", "evidence_due_near", "evidence_due_passed"
PREFIX = "chargeback:"


def _warning() -> dt.timedelta:
    from worker.settings import get_settings

    return dt.timedelta(days=get_settings().chargeback_warning_days)


def findings(row: Chargeback, now: dt.datetime, warning: dt.timedelta) -> list[tuple[str, str, str]]:
    """(stage, severity, message) of the alert the chargeback deserves at ``now``, if any (pure)."""
    due = row.evidence_due_by
    if row.status != "NEEDS_RESPONSE" or row.evidence_sent_on is not None or due is None:
        return []
    what = f"{row.dispute_type.lower()} {row.reason} for {round_money(row.amount, row.currency)} {row.currency}"
    if now >= due:
        return [(PASSED, "critical", f"{what}: the evidence deadline passed: the dispute will be lost")]
    if now >= due - warning:
        hours = int((due - now).total_seconds() // 3600)
        return [(NEAR, "critical", f"{what}: evidence due in {hours} h: submit it")]
    return [(OPEN, "warning", f"{what}: evidence due by {due:%Y-%m-%d %H:%M} UTC; review the evidence pack "
                              "and the recommendation")]  # fmt: skip


def command(stage: str, order: str | None, dispute: str | None) -> str:
    """The command an alert of ``stage`` gives (pure): ``order`` as a shell names it (``'#1001'``), None while
    the order is not mirrored; ``dispute`` the ``--dispute`` value when the order has more than one."""
    if order is None:
        return "dropsync sync reconcile"  # the order first: without it nothing can be reviewed or sent
    if stage == NEAR:
        return f"dropsync chargebacks submit {order}" + (f" --dispute {dispute}" if dispute else "")
    return f"dropsync chargebacks show {order}"


def sync_alerts(session: Session, row: Chargeback, now: dt.datetime, warning: dt.timedelta | None = None) -> int:
    """Raise what ``row`` deserves now (each once), resolve what it no longer does; an open alert it still
    deserves follows the dispute's order and command (linked since, a second dispute). Flushes only."""
    from worker.chargebacks.service import dispute_arg, order_arg

    wanted = findings(row, now, warning if warning is not None else _warning())
    keys = {f"{PREFIX}{stage}:{row.id}:{row.evidence_due_by:%Y-%m-%dT%H:%M}": (stage, severity, message)
            for stage, severity, message in wanted}  # fmt: skip
    order, dispute = order_arg(session, row), dispute_arg(session, row)
    commands = {key: command(stage, order, dispute) for key, (stage, _, _) in keys.items()}
    raised = sum(1 for key, finding in keys.items() if _raise(session, row, key, *finding, commands[key], now))
    for alert in session.scalars(select(Alert).where(Alert.resolved_at.is_(None), _keys_of(row))):
        if alert.dedupe_key not in keys:
            resolve_alert(session, alert, now, actor="chargebacks", why=_why_resolved(row, alert, wanted))
        elif (alert.order_id, alert.command) != (row.order_id, commands[alert.dedupe_key]):
            alert.order_id, alert.command = row.order_id, commands[alert.dedupe_key]
    session.flush()
    return raised


def _keys_of(row: Chargeback) -> ColumnElement[bool]:
    return or_(*(Alert.dedupe_key.startswith(f"{PREFIX}{stage}:{row.id}:") for stage in (OPEN, NEAR, PASSED)))


def _why_resolved(row: Chargeback, alert: Alert, wanted: list[tuple[str, str, str]]) -> str:
    if row.evidence_sent_on is not None:
        return "evidence sent"
    if row.status != "NEEDS_RESPONSE":
        return f"the dispute is {row.status.lower().replace('_', ' ')}"
    if row.evidence_due_by is not None and alert.due_at != row.evidence_due_by:
        return f"the deadline moved to {row.evidence_due_by:%Y-%m-%d %H:%M} UTC"
    if wanted:
        return f"superseded by chargeback_{wanted[0][0]}"
    return "no longer applies"


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
    session: Session, row: Chargeback, key: str, stage: str, severity: str, message: str, command: str,
    now: dt.datetime,
) -> bool:  # fmt: skip
    """Through the one alert path (timeline, log, metric, notifications): False when raised before."""
    subject = f"chargeback {row.id}"
    spec = AlertSpec(row.shop_id, row.order_id, None, f"chargeback_{stage}", severity, message, row.evidence_due_by,
                     key, subject, command)  # fmt: skip
    return raise_alert(session, spec, now, actor="chargebacks") is not None
