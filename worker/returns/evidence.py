"""Evidence the customer sent (photos, video, tracking, correspondence), stored with its request.

``--evidence photos,video`` (or ``photos=IMG_1.jpg``: the kind and where the file is) on ``cancel request``
and ``returns request``. The policy reads the kinds (``Request.evidence``); ``orders show`` lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import RequestEvidence
from models.types import utcnow
from worker.errors import UsageError
from worker.policy import Evidence


@dataclass(frozen=True)
class EvidenceItem:
    kind: Evidence
    reference: str | None = None


def parse_evidence(spec: str | None) -> list[EvidenceItem]:
    """``photos,video=clip.mp4`` → items; an unknown kind is a usage error naming the known ones."""
    items: dict[Evidence, EvidenceItem] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, reference = part.partition("=")
        try:
            kind = Evidence(name.strip().lower())
        except ValueError:
            known = ", ".join(e.value for e in Evidence)
            raise UsageError(f"--evidence: unknown kind {name.strip()!r} (one of: {known})") from None
        items[kind] = EvidenceItem(kind, reference.strip() or None)
    return list(items.values())


def kinds(items: Iterable[EvidenceItem]) -> frozenset[Evidence]:
    return frozenset(i.kind for i in items)


def attach(
    session: Session, order_id: int, items: Iterable[EvidenceItem], actor: str, *,
    cancellation_request_id: int | None = None, return_id: int | None = None,
) -> None:  # fmt: skip
    """Store the items with their request (one row per kind: a second mention keeps the first)."""
    now = utcnow()
    for item in items:
        session.add(
            RequestEvidence(
                order_id=order_id, cancellation_request_id=cancellation_request_id, return_id=return_id,
                kind=item.kind.value, reference=item.reference, recorded_by=actor, recorded_at=now,
            )
        )  # fmt: skip
    session.flush()


def for_order(session: Session, order_id: int) -> list[RequestEvidence]:
    query = select(RequestEvidence).where(RequestEvidence.order_id == order_id).order_by(RequestEvidence.id)
    return list(session.scalars(query))


def of_cancellation(session: Session, request_id: int) -> frozenset[Evidence]:
    query = select(RequestEvidence.kind).where(RequestEvidence.cancellation_request_id == request_id)
    return frozenset(Evidence(k) for k in session.scalars(query))


def of_return(session: Session, return_id: int) -> frozenset[Evidence]:
    query = select(RequestEvidence.kind).where(RequestEvidence.return_id == return_id)
    return frozenset(Evidence(k) for k in session.scalars(query))
