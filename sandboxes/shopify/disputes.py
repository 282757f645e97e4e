"""Shopify Payments disputes (chargebacks and inquiries): the records, their GraphQL views, the REST webhook
body, the ``disputes(query:)`` filter, and the control-plane steps (open, decide, seed).

A dispute belongs to an order (by index: the order need not be materialized) and never changes the
order itself. Statuses follow ``DisputeStatus``: a new dispute ``NEEDS_RESPONSE``; submitting evidence
moves it to ``UNDER_REVIEW`` (``disputeEvidenceUpdate``, mutations/disputes.py); the card network's
answer (``POST /_sandbox/disputes/{id}/decide``) finalizes it ``WON`` / ``LOST`` (or ``ACCEPTED`` by the
merchant). The bank may escalate an open inquiry (``POST /_sandbox/disputes/{id}/escalate``): the same dispute
becomes a chargeback that needs a response again (``escalate``). Every change fires ``disputes/create`` or
``disputes/update`` with Shopify's REST Dispute JSON.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sandboxes.shopify import ids, ledger
from sandboxes.shopify.errors import ShopifyError
from sandboxes.shopify.model import Order, gid
from sandboxes.shopify.views.address import address_dict
from sandboxes.shopify.views.base import DICT_TYPES, Connection, View, connection, iso, linked_view, money
from sandboxes.shopify.webhooks import urls_for

if TYPE_CHECKING:
    from sandboxes.shopify.sandbox import ShopifySandbox
    from sandboxes.shopify.state import ShopState
    from sandboxes.shopify.views.orders import OrderView

DISPUTE_BASE = 11_000_000_000
TYPES = ("CHARGEBACK", "INQUIRY")
STATUSES = ("NEEDS_RESPONSE", "UNDER_REVIEW", "WON", "LOST", "ACCEPTED", "CHARGE_REFUNDED", "PREVENTED")
FINAL = ("WON", "LOST", "ACCEPTED", "CHARGE_REFUNDED", "PREVENTED")
DECISIONS = ("WON", "LOST", "ACCEPTED")
REASONS = (
    "BANK_CANNOT_PROCESS", "CREDIT_NOT_PROCESSED", "CUSTOMER_INITIATED", "DEBIT_NOT_AUTHORIZED", "DUPLICATE",
    "FRAUDULENT", "GENERAL", "INCORRECT_ACCOUNT_DETAILS", "INSUFFICIENT_FUNDS", "NONCOMPLIANT",
    "PRODUCT_NOT_RECEIVED", "PRODUCT_UNACCEPTABLE", "SUBSCRIPTION_CANCELLED", "UNRECOGNIZED",
)  # fmt: skip
#: Visa's reason codes for the common reasons (what ``networkReasonCode`` carries).
NETWORK_CODES = {
    "PRODUCT_NOT_RECEIVED": "13.1", "PRODUCT_UNACCEPTABLE": "13.3", "CREDIT_NOT_PROCESSED": "13.6",
    "FRAUDULENT": "10.4", "DUPLICATE": "12.6.1", "SUBSCRIPTION_CANCELLED": "13.2",
}  # fmt: skip
#: Card networks commonly leave the merchant about three weeks; Shopify asks for evidence a few days earlier.
EVIDENCE_DAYS = 14
#: The longest evidence deadline the control plane accepts (the networks give days to weeks).
MAX_EVIDENCE_DAYS = 60
#: Every text field of ``ShopifyPaymentsDisputeEvidenceUpdateInput`` (file fields are refused: no uploads).
TEXT_FIELDS = (
    "accessActivityLog", "cancellationPolicyDisclosure", "cancellationRebuttal", "customerEmailAddress",
    "customerFirstName", "customerLastName", "refundPolicyDisclosure", "refundRefusalExplanation",
    "uncategorizedText",
)  # fmt: skip
FILE_FIELDS = (
    "cancellationPolicyFile", "customerCommunicationFile", "refundPolicyFile", "serviceDocumentationFile",
    "shippingDocumentationFile", "uncategorizedFile",
)  # fmt: skip


@dataclass
class Dispute:
    id: int
    order_index: int
    type: str
    reason: str
    network_reason_code: str | None
    amount: Decimal
    currency: str
    initiated_at: datetime
    evidence_due_by: datetime | None
    status: str = "NEEDS_RESPONSE"
    evidence_sent_on: datetime | None = None
    finalized_on: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)  # the latest value of every field written
    submitted: bool = False
    submissions: list[dict[str, Any]] = field(default_factory=list)  # each disputeEvidenceUpdate applied
    initiated_as: str = ""  # the type it was opened as (``OrderDisputeSummary.initiatedAs``): kept by ``escalate``

    def __post_init__(self) -> None:
        self.initiated_as = self.initiated_as or self.type

    @property
    def gid(self) -> str:
        return gid("ShopifyPaymentsDispute", self.id)

    @property
    def evidence_gid(self) -> str:
        return gid("ShopifyPaymentsDisputeEvidence", self.id)


# Plain-dict types this module builds (the executor answers only fields it knows).
DICT_TYPES.update(
    {
        "ShopifyPaymentsDisputeReasonDetails": {"reason", "networkReasonCode"},
        "OrderDisputeSummary": {"id", "initiatedAs", "status"},
        "DisputeEvidenceUpdatePayload": {"disputeEvidence", "userErrors"},
        "DisputeEvidenceUpdateUserError": {"field", "message", "code"},
    }
)


class DisputeError(ValueError):
    """A control request for a dispute that cannot be made (one line)."""


# --- records and control steps -------------------------------------------------------------------------


def book(state: ShopState) -> dict[int, Dispute]:
    """The shop's disputes by numeric id (created with the state; emptied by a reset)."""
    found: dict[int, Dispute] = state.disputes
    return found


def find(state: ShopState, reference: str | int) -> Dispute | None:
    """A dispute by gid (dispute or its evidence) or numeric id."""
    text = str(reference).strip()
    for kind in ("ShopifyPaymentsDispute", "ShopifyPaymentsDisputeEvidence"):
        prefix = f"gid://shopify/{kind}/"
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return book(state).get(int(text)) if text.isdigit() else None


#: The fields a test or the control API may set when opening a dispute.
OPEN_OPTIONS = frozenset({"type", "reason", "amount", "network_reason_code", "evidence_due_in_days"})


def open_dispute(
    sandbox: ShopifySandbox,
    order: Order,
    *,
    type: str = "CHARGEBACK",
    reason: str = "GENERAL",
    amount: str | None = None,
    network_reason_code: str | None = None,
    evidence_due_in_days: float = EVIDENCE_DAYS,
) -> Dispute:
    """The customer's bank disputes the order's charge (amount: at most what was captured; the total by default)."""
    kind, why = str(type).upper(), str(reason).upper()
    if kind not in TYPES:
        raise DisputeError(f"type must be one of {', '.join(TYPES)} (got {type!r})")
    if why not in REASONS:
        raise DisputeError(f"reason must be one of {', '.join(REASONS)} (got {reason!r})")
    try:
        days = float(evidence_due_in_days)
    except (TypeError, ValueError):
        raise DisputeError(f"evidence_due_in_days must be a number (got {evidence_due_in_days!r})") from None
    if not 0 < days <= MAX_EVIDENCE_DAYS:  # the networks give days to weeks, never the past
        raise DisputeError(
            f"evidence_due_in_days must be more than 0 and at most {MAX_EVIDENCE_DAYS} (got {evidence_due_in_days!r})"
        )
    captured = ledger.received(order).shop
    if captured <= 0:
        raise DisputeError(f"order {order.name} has no captured payment to dispute")
    value = _amount(amount) if amount is not None else min(ledger.total_price(order).shop, captured)
    if value > captured:  # a bank disputes a charge, at most what was charged
        raise DisputeError(f"amount {value} is more than the {captured} captured on order {order.name}")
    state = sandbox.state
    now = state.clock.tick()
    dispute = Dispute(
        DISPUTE_BASE + state.serial(), order.index, kind, why, network_reason_code or NETWORK_CODES.get(why), value,
        order.currency, now, now + timedelta(days=days),
    )  # fmt: skip
    book(state)[dispute.id] = dispute
    _emit(sandbox, "disputes/create", dispute, order)
    return dispute


def decide(sandbox: ShopifySandbox, dispute: Dispute, status: str) -> Dispute:
    """The network's (or the merchant's) final word: WON, LOST or ACCEPTED."""
    final = str(status).upper()
    if final not in DECISIONS:
        raise DisputeError(f"status must be one of {', '.join(DECISIONS)} (got {status!r})")
    if dispute.status in FINAL:
        raise DisputeError(f"dispute {dispute.id} is already {dispute.status}")
    dispute.status, dispute.finalized_on = final, sandbox.state.clock.tick()
    changed(sandbox, dispute)
    return dispute


#: The fields a test or the control API may set when escalating an inquiry.
ESCALATE_OPTIONS = frozenset({"evidence_due_by"})


def escalate(sandbox: ShopifySandbox, dispute: Dispute, *, evidence_due_by: datetime | str | None = None) -> Dispute:
    """The bank turns an open inquiry into a chargeback: the same dispute (same id, amount, reason,
    ``initiatedAt`` and evidence object) becomes type CHARGEBACK and needs a response again (NEEDS_RESPONSE,
    even if the inquiry was answered and is UNDER_REVIEW) by a new deadline: ``evidence_due_by`` (a datetime or
    ISO-8601 text, no zone meaning UTC; after now, at most ``MAX_EVIDENCE_DAYS`` ahead), by default
    ``EVIDENCE_DAYS`` from now, as ``open_dispute`` gives a new chargeback. ``disputes/update`` fires. Only an
    INQUIRY not finalized can be escalated; a refusal changes nothing.

    ``OrderDisputeSummary.initiatedAs`` stays INQUIRY: the schema documents it as "the type that the dispute
    was initiated as", while ``type`` "indicates if this dispute is still in the inquiry phase or has turned
    into a chargeback".

    The inquiry's answer is cleared (``disputeEvidence.submitted`` false, ``evidenceSentOn`` null). Shopify
    does not document this field by field; we decided it because (1) a chargeback that needs a response must
    be able to take one, and ``disputeEvidenceUpdate`` refuses evidence once submitted
    (EVIDENCE_ALREADY_ACCEPTED); Shopify's Help Center says of an open chargeback or inquiry "Shopify hasn't
    sent the response yet. You can still add evidence to the response"; (2) the schema's ``evidenceSentOn``
    "returns null if evidence hasn't yet been sent", and nothing has been sent for the chargeback, whose own
    ``evidenceDueBy`` decides it (DOMAIN.md: a missed one loses the dispute); (3) everywhere else in the
    sandbox NEEDS_RESPONSE has no ``evidenceSentOn``. Kept: the evidence written (one evidence object per
    dispute, its id the dispute's: a draft for the chargeback's answer) and the control plane's log of
    ``submissions`` (never shown by the API).
    """
    if dispute.status in FINAL:
        raise DisputeError(f"dispute {dispute.id} is already {dispute.status}")
    if dispute.type != "INQUIRY":
        raise DisputeError(f"dispute {dispute.id} is a {dispute.type}: only an INQUIRY can be escalated")
    now = sandbox.state.clock.tick()
    due = _deadline(evidence_due_by, now)
    dispute.type, dispute.status, dispute.evidence_due_by = "CHARGEBACK", "NEEDS_RESPONSE", due
    dispute.submitted, dispute.evidence_sent_on = False, None
    changed(sandbox, dispute)
    return dispute


def _deadline(value: datetime | str | None, now: datetime) -> datetime:
    if value is None:
        return now + timedelta(days=EVIDENCE_DAYS)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise DisputeError(f"evidence_due_by must be an ISO-8601 date and time (got {value!r})") from None
    else:
        raise DisputeError(f"evidence_due_by must be an ISO-8601 date and time (got {value!r})")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the sandbox shop's timezone is UTC
    # Bounds before converting: year 9999 in a zone west of UTC would overflow astimezone (a 500).
    if not now < moment <= now + timedelta(days=MAX_EVIDENCE_DAYS):  # the networks give days to weeks
        raise DisputeError(
            f"evidence_due_by must be after now ({now.isoformat(timespec='seconds')}) and at most "
            f"{MAX_EVIDENCE_DAYS} days ahead (got {value!r})"
        )
    return moment.astimezone(UTC)


def changed(sandbox: ShopifySandbox, dispute: Dispute) -> None:
    order = sandbox.state.get(dispute.order_index)
    if order is not None:
        _emit(sandbox, "disputes/update", dispute, order)


def _emit(sandbox: ShopifySandbox, topic: str, dispute: Dispute, order: Order) -> None:
    urls = urls_for(sandbox, topic)
    if urls:
        sandbox.webhooks.emit(topic, rest_json(dispute, order), urls)


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise DisputeError(f"amount must be a decimal number (got {text!r})") from None
    if not value.is_finite() or value <= 0:
        raise DisputeError(f"amount must be positive (got {text!r})")
    return value.quantize(Decimal("0.01"))


def seed(state: ShopState, count: int) -> None:
    """``count`` disputes on seeded orders, the same for the same seed: paid orders picked by a seeded
    draw; fulfilled ones get PRODUCT_NOT_RECEIVED or PRODUCT_UNACCEPTABLE, refunded ones
    CREDIT_NOT_PROCESSED, the rest FRAUDULENT. About a third already have an answer (WON or LOST)."""
    rng = random.Random(f"shopify-sandbox-disputes:{state.config.seed}")
    disputes = book(state)
    tried: set[int] = set()
    for _ in range(count * 20):
        if len(disputes) >= count or len(tried) >= state.config.orders:
            return
        index = rng.randrange(state.config.orders) if state.config.orders else 0
        if index in tried:
            continue
        tried.add(index)
        order = state.get(index)
        if order is None or order.cancelled_at is not None or ledger.received(order).shop <= 0:
            continue
        disputes_on(state, order, rng)


def disputes_on(state: ShopState, order: Order, rng: random.Random) -> None:
    if order.refunds:
        reason = "CREDIT_NOT_PROCESSED"
    elif order.fulfillments:
        reason = rng.choice(("PRODUCT_NOT_RECEIVED", "PRODUCT_UNACCEPTABLE"))
    else:
        reason = "FRAUDULENT"
    # Relative to the shop's seeding instant (not the wall clock): the same seed gives the same disputes.
    now = state.config.clock_start or state.clock.now()
    # Within the last 30 days (never before the order): about half still wait for evidence.
    initiated = max(order.created_at + timedelta(days=1), now - timedelta(hours=rng.randint(24, 30 * 24)))
    initiated = min(initiated, now - timedelta(hours=1))
    dispute = Dispute(
        DISPUTE_BASE + 900_000 + order.index, order.index, "CHARGEBACK", reason, NETWORK_CODES.get(reason),
        ledger.total_price(order).shop, order.currency, initiated, initiated + timedelta(days=EVIDENCE_DAYS),
    )  # fmt: skip
    assert dispute.evidence_due_by is not None
    if rng.random() < 0.33 or dispute.evidence_due_by < now:
        # Decided already; a missed evidence deadline always loses.
        won = dispute.evidence_due_by >= now and rng.random() < 0.5
        dispute.status = "WON" if won else "LOST"
        dispute.finalized_on = min(dispute.evidence_due_by + timedelta(days=1), now)
        dispute.evidence_sent_on = initiated + timedelta(days=2) if won else None
        dispute.submitted = won
    book(state)[dispute.id] = dispute


# --- REST webhook body -----------------------------------------------------------------------------------


def rest_json(dispute: Dispute, order: Order) -> dict[str, Any]:
    """Shopify's REST ``Dispute`` resource (the ``disputes/*`` webhook body): enums in lower case."""

    def when(moment: datetime | None) -> str | None:
        return moment.isoformat(timespec="seconds") if moment else None

    return {
        "id": dispute.id,
        "order_id": order.id,
        "type": dispute.type.lower(),
        "amount": str(dispute.amount.quantize(Decimal("0.01"))),
        "currency": dispute.currency,
        "reason": dispute.reason.lower(),
        "network_reason_code": dispute.network_reason_code,
        "status": dispute.status.lower(),
        "evidence_due_by": when(dispute.evidence_due_by),
        "evidence_sent_on": when(dispute.evidence_sent_on),
        "finalized_on": when(dispute.finalized_on),
        "initiated_at": when(dispute.initiated_at),
    }


# --- disputes(query:) ------------------------------------------------------------------------------------

_TERM = re.compile(r"^(?P<key>\w+):(?P<op><=|>=|<|>)?(?P<value>'[^']*'|\"[^\"]*\"|\S+)$")


def matcher(query: str | None) -> Any:
    """A predicate for ``disputes(query:)``: ``id``, ``initiated_at`` (comparisons) and ``status``,
    terms joined by spaces or ``AND`` (``OR`` and negation are not supported by the sandbox)."""
    tests = []
    for term in (query or "").split():
        if term == "AND":
            continue
        match = _TERM.match(term)
        if match is None or term.startswith("-") or term == "OR":
            raise ShopifyError(f"not supported by the sandbox: disputes(query: {query!r})", "NOT_SUPPORTED_BY_SANDBOX")
        key, op, value = match["key"], match["op"] or "=", match["value"].strip("'\"")
        tests.append(_test(key, op, value, query or ""))
    return lambda dispute: all(test(dispute) for test in tests)


def _test(key: str, op: str, value: str, query: str) -> Any:
    if key == "status":
        return lambda d: d.status == value.upper()
    if key == "id":
        number = int(value.rsplit("/", 1)[-1]) if value.rsplit("/", 1)[-1].isdigit() else -1
        return lambda d: _compare(d.id, op, number)
    if key == "initiated_at":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ShopifyError(f"Invalid timestamp for initiated_at: {value!r}", "BAD_REQUEST") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # the sandbox shop's timezone is UTC
        return lambda d: _compare(d.initiated_at, op, moment)
    raise ShopifyError(f"not supported by the sandbox: disputes(query:) filter {key!r}", "NOT_SUPPORTED_BY_SANDBOX")


def _compare(left: Any, op: str, right: Any) -> bool:
    return bool(
        {"=": left == right, "<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    )


def listing(
    state: ShopState, query: str | None, first: int | None, after: str | None, last: int | None,
    before: str | None, reverse: bool,
) -> Connection:  # fmt: skip
    """Disputes by id (oldest first; ``reverse``: newest first), cursor paged like every connection."""
    if first is None and last is None:
        raise ShopifyError("you must provide one of first or last", "BAD_REQUEST")
    keep = matcher(query)
    rows = sorted((d for d in book(state).values() if keep(d)), key=lambda d: d.id)
    try:
        return connection(rows, lambda d: d.id, lambda d: DisputeView(state, d), first, after, last, before, reverse)
    except ValueError as exc:
        raise ShopifyError(str(exc), "BAD_REQUEST") from None


# --- GraphQL views ---------------------------------------------------------------------------------------


class DisputeView(View):
    typename = "ShopifyPaymentsDispute"

    def __init__(self, state: ShopState, dispute: Dispute) -> None:
        self._state = state
        self._dispute = dispute

    def id(self) -> str:
        return self._dispute.gid

    def legacyResourceId(self) -> str:
        return str(self._dispute.id)

    def order(self) -> OrderView | None:
        order = self._state.get(self._dispute.order_index)
        return linked_view("Order", self._state, order) if order is not None else None

    def type(self) -> str:
        return self._dispute.type

    def status(self) -> str:
        return self._dispute.status

    def amount(self) -> dict[str, str]:
        return money(self._dispute.amount, self._dispute.currency)

    def evidenceDueBy(self) -> str | None:
        return iso(self._dispute.evidence_due_by)

    def evidenceSentOn(self) -> str | None:
        return iso(self._dispute.evidence_sent_on)

    def finalizedOn(self) -> str | None:
        return iso(self._dispute.finalized_on)

    def initiatedAt(self) -> str | None:
        return iso(self._dispute.initiated_at)

    def reasonDetails(self) -> dict[str, Any]:
        return {"reason": self._dispute.reason, "networkReasonCode": self._dispute.network_reason_code}

    def disputeEvidence(self) -> DisputeEvidenceView:
        return DisputeEvidenceView(self._state, self._dispute)


class DisputeEvidenceView(View):
    """The evidence: what was written (``disputeEvidenceUpdate``) over what Shopify prefills from the order
    (customer, addresses, product description, the order's fulfillments)."""

    typename = "ShopifyPaymentsDisputeEvidence"

    def __init__(self, state: ShopState, dispute: Dispute) -> None:
        self._state = state
        self._dispute = dispute
        self._order = state.get(dispute.order_index)

    def _text(self, name: str, prefilled: str | None = None) -> str | None:
        value = self._dispute.evidence.get(name)
        return str(value) if value is not None else prefilled

    def id(self) -> str:
        return self._dispute.evidence_gid

    def dispute(self) -> DisputeView:
        return DisputeView(self._state, self._dispute)

    def submitted(self) -> bool:
        return self._dispute.submitted

    def accessActivityLog(self) -> str | None:
        return self._text("accessActivityLog")

    def cancellationPolicyDisclosure(self) -> str | None:
        return self._text("cancellationPolicyDisclosure")

    def cancellationRebuttal(self) -> str | None:
        return self._text("cancellationRebuttal")

    def customerEmailAddress(self) -> str | None:
        return self._text("customerEmailAddress", self._order.customer.email if self._order else None)

    def customerFirstName(self) -> str | None:
        return self._text("customerFirstName", self._order.customer.first_name if self._order else None)

    def customerLastName(self) -> str | None:
        return self._text("customerLastName", self._order.customer.last_name if self._order else None)

    def customerPurchaseIp(self) -> str | None:
        return None

    def productDescription(self) -> str | None:
        if self._order is None:
            return None
        return "; ".join(f"{item.quantity} x {item.title}" for item in self._order.line_items)

    def refundPolicyDisclosure(self) -> str | None:
        return self._text("refundPolicyDisclosure")

    def refundRefusalExplanation(self) -> str | None:
        return self._text("refundRefusalExplanation")

    def uncategorizedText(self) -> str | None:
        return self._text("uncategorizedText")

    def shippingAddress(self) -> dict[str, Any] | None:
        written = self._dispute.evidence.get("shippingAddress")
        if written is not None:
            return _mailing_address(written)
        return address_dict(self._order) if self._order else None

    def billingAddress(self) -> dict[str, Any] | None:
        return address_dict(self._order) if self._order else None

    def disputeFileUploads(self) -> list[Any]:
        return []

    def fulfillments(self) -> list[DisputeFulfillmentView]:
        if self._order is None:
            return []
        return [DisputeFulfillmentView(f) for f in self._order.fulfillments if f.status == "SUCCESS"]


class DisputeFulfillmentView(View):
    typename = "ShopifyPaymentsDisputeFulfillment"

    def __init__(self, fulfillment: Any) -> None:
        self._fulfillment = fulfillment

    def id(self) -> str:
        return gid("ShopifyPaymentsDisputeFulfillment", self._fulfillment.id)

    def shippingCarrier(self) -> str | None:
        return str(self._fulfillment.tracking_company) if self._fulfillment.tracking_company else None

    def shippingDate(self) -> str:
        created: date = self._fulfillment.created_at.date()
        return created.isoformat()

    def shippingTrackingNumber(self) -> str | None:
        return str(self._fulfillment.tracking_number) if self._fulfillment.tracking_number else None


def order_disputes(state: ShopState, order: Order) -> list[dict[str, Any]]:
    """``Order.disputes``: ``[OrderDisputeSummary!]!`` (id, initiatedAs, status), oldest first."""
    found = sorted((d for d in book(state).values() if d.order_index == order.index), key=lambda d: d.id)
    return [
        {"__typename": "OrderDisputeSummary", "id": d.gid, "initiatedAs": d.initiated_as, "status": d.status}
        for d in found
    ]


def _mailing_address(value: dict[str, Any]) -> dict[str, Any]:
    keys = ("firstName", "lastName", "address1", "address2", "city", "province", "provinceCode", "zip", "phone",
            "company")  # fmt: skip
    out: dict[str, Any] = {key: value.get(key) for key in keys}
    out["name"] = " ".join(p for p in (value.get("firstName"), value.get("lastName")) if p) or None
    country = value.get("countryCode")
    out.update(country=country, countryCode=country, countryCodeV2=country)
    return out


def order_gid(dispute: Dispute) -> str:
    return gid("Order", ids.order_id(dispute.order_index))
