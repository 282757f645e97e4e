"""``disputeEvidenceUpdate(id, input)``: write evidence on a dispute and, with ``submitEvidence``, send it.

``id`` is the ``ShopifyPaymentsDisputeEvidence`` gid. Refusals (``userErrors``, nothing written):
unknown evidence (DISPUTE_EVIDENCE_NOT_FOUND), evidence already submitted or the dispute already decided
(EVIDENCE_ALREADY_ACCEPTED), ``evidenceDueBy`` passed (EVIDENCE_PAST_DUE_DATE), a file field (FILE_NOT_FOUND:
the sandbox has no staged uploads, so no file id exists), a malformed customer email (INVALID).
Applied: every non-null field overwrites the stored one; ``submitEvidence: true`` marks the evidence
submitted, sets ``evidenceSentOn`` and moves the dispute to UNDER_REVIEW (``disputes/update`` fires).
There is no idempotency key: a resent submission is refused as EVIDENCE_ALREADY_ACCEPTED.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import disputes as d

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox

NAME = "disputeEvidenceUpdate"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEXT = 150_000


def dispute_evidence_update(sandbox: ShopifySandbox, id: str, input: dict[str, Any]) -> dict[str, Any]:
    state = sandbox.state
    dispute = d.find(state, id) if id.startswith("gid://shopify/ShopifyPaymentsDisputeEvidence/") else None
    if dispute is None:
        state.record(NAME, None, applied=False, refused="not found", id=id)
        return _refused(["id"], "Dispute evidence could not be found", "DISPUTE_EVIDENCE_NOT_FOUND")
    order_gid = d.order_gid(dispute)
    problem = _problem(sandbox, dispute, input)
    if problem is not None:
        state.record(NAME, order_gid, applied=False, refused=problem[1], dispute=dispute.gid)
        return _refused(*problem)
    written = {k: v for k, v in input.items() if v is not None and k != "submitEvidence"}
    dispute.evidence.update(written)
    submit = bool(input.get("submitEvidence"))
    now = state.clock.tick()
    dispute.submissions.append({"at": now.isoformat(), "fields": written, "submitted": submit})
    if submit:
        dispute.submitted, dispute.evidence_sent_on, dispute.status = True, now, "UNDER_REVIEW"
    state.record(NAME, order_gid, applied=True, dispute=dispute.gid, submitted=submit, fields=sorted(written))
    if submit:
        d.changed(sandbox, dispute)
    return {"disputeEvidence": d.DisputeEvidenceView(state, dispute), "userErrors": []}


def _problem(sandbox: ShopifySandbox, dispute: d.Dispute, input: dict[str, Any]) -> tuple[list[str], str, str] | None:
    if dispute.submitted or dispute.status in d.FINAL:
        return ["id"], "Evidence already accepted", "EVIDENCE_ALREADY_ACCEPTED"
    if dispute.evidence_due_by is not None and sandbox.state.clock.now() > dispute.evidence_due_by:
        return ["id"], "Evidence past due date", "EVIDENCE_PAST_DUE_DATE"
    for name in d.FILE_FIELDS:
        if input.get(name) is not None:
            return ["input", name], "File upload failed. Please try again.", "FILE_NOT_FOUND"
    email = input.get("customerEmailAddress")
    if email is not None and not EMAIL.match(str(email)):
        return ["input", "customerEmailAddress"], "Customer email address is invalid", "INVALID"
    for name in d.TEXT_FIELDS:
        if len(str(input.get(name) or "")) > MAX_TEXT:
            return ["input", name], f"{name} is too long (maximum is {MAX_TEXT} characters)", "INVALID"
    return None


def _refused(field: list[str], message: str, code: str) -> dict[str, Any]:
    return {"disputeEvidence": None, "userErrors": [{"field": field, "message": message, "code": code}]}
