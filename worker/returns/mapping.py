"""Pure translations between Shopify's return vocabulary and the policy's. No I/O."""

from __future__ import annotations

from collections.abc import Iterable

from worker.policy import Decision, Reason

#: Shopify's ``ReturnReason`` (or reason handle, normalised) → the policy's reason.
SHOPIFY_REASONS: dict[str, Reason] = {
    "SIZE_TOO_SMALL": Reason.WRONG_SIZE,
    "SIZE_TOO_LARGE": Reason.WRONG_SIZE,
    "UNWANTED": Reason.CHANGED_MIND,
    "STYLE": Reason.CHANGED_MIND,
    "COLOR": Reason.CHANGED_MIND,
    "DEFECTIVE": Reason.DEFECTIVE,
    "NOT_AS_DESCRIBED": Reason.NOT_AS_DESCRIBED,
    "WRONG_ITEM": Reason.WRONG_ITEM,
    "OTHER": Reason.OTHER,
    "UNKNOWN": Reason.OTHER,
}

#: The policy's reason → the ``ReturnReason`` sent with ``returnCreate``.
POLICY_TO_SHOPIFY: dict[Reason, str] = {
    Reason.WRONG_SIZE: "SIZE_TOO_SMALL",
    Reason.CHANGED_MIND: "UNWANTED",
    Reason.DEFECTIVE: "DEFECTIVE",
    Reason.DAMAGED: "DEFECTIVE",
    Reason.NOT_AS_DESCRIBED: "NOT_AS_DESCRIBED",
    Reason.WRONG_ITEM: "WRONG_ITEM",
}

DECLINE_NOTE_LIMIT = 500


def policy_reason(shopify_reasons: Iterable[str]) -> Reason:
    """One policy reason for a return's lines: theirs when they agree, ``other`` (a person looks) when not."""
    reasons = {SHOPIFY_REASONS.get(r, Reason.OTHER) for r in shopify_reasons}
    return reasons.pop() if len(reasons) == 1 else Reason.OTHER


def shopify_reason(reason: Reason) -> str:
    return POLICY_TO_SHOPIFY.get(reason, "OTHER")


def decline_reason(decision: Decision) -> str:
    """``returnDeclineRequest``'s reason from the rule that denied: RETURN_PERIOD_ENDED | FINAL_SALE | OTHER."""
    text = " ".join(decision.reasons).lower()
    if "return window" in text or "days of delivery" in text:
        return "RETURN_PERIOD_ENDED"
    if "final" in text:
        return "FINAL_SALE"
    return "OTHER"


def decline_note(decision: Decision) -> str:
    """The policy's reasons, as the customer reads them (Shopify allows 500 characters)."""
    note = " ".join(decision.reasons) or "Declined under the store's return policy."
    return note if len(note) <= DECLINE_NOTE_LIMIT else note[: DECLINE_NOTE_LIMIT - 1] + "…"
