"""The policy file's schema (pydantic): what a store owner can write, with the built-in defaults.

Every section refuses unknown keys (a typo must not silently fall back to a default). Per-reason rules
(``[returns.reasons.damaged]``) override the ``[returns]`` defaults key by key; a supplier's terms
(``[suppliers."Seller name"]``) override ``[suppliers.default]`` key by key.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, Strict, field_validator, model_validator

from worker.money import is_currency
from worker.policy.inputs import Evidence, Reason

_T = TypeVar("_T")
Percent = Annotated[Decimal, Field(ge=0, le=100)]
Days = Annotated[int, Field(ge=0), Strict()]
#: Booleans are strict: ``"yes"`` or ``1`` in a policy file is a mistake to report, not to guess.
Flag = Annotated[bool, Strict()]


class Payer(StrEnum):
    CUSTOMER = "customer"
    STORE = "store"


class RefundMethod(StrEnum):
    ORIGINAL = "original"
    STORE_CREDIT = "store_credit"


class CancelUntil(StrEnum):
    BEFORE_SUPPLIER_PAYMENT = "before_supplier_payment"
    BEFORE_SHIPMENT = "before_shipment"
    NEVER = "never"


class Fallback(StrEnum):
    DENY = "deny"
    ESCALATE = "escalate"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


def _currency_code(value: str) -> str:
    if not is_currency(value):
        raise ValueError(f"must be an ISO 4217 currency code, got {value!r}")
    return value.upper()


class StoreSection(_Section):
    """The store's typical order: what the lint counts as money at risk per order."""

    name: str = "the store"
    currency: str = "USD"
    typical_order_value: Decimal = Field(Decimal("40"), ge=0)
    typical_shipping: Decimal = Field(Decimal("5"), ge=0)

    _currency = field_validator("currency")(_currency_code)


ALL_REASONS: tuple[Reason, ...] = tuple(Reason)


class CancellationSection(_Section):
    allowed: Flag = True
    until: CancelUntil = CancelUntil.BEFORE_SHIPMENT
    window_hours: Days = 0
    after_window: Fallback = Fallback.DENY
    reasons: tuple[Reason, ...] = ALL_REASONS
    refund_shipping: Flag = True
    fee_percent: Percent = Decimal(0)
    refund_method: RefundMethod = RefundMethod.ORIGINAL
    notify_customer: Flag = True


class ReasonRule(_Section):
    """One reason's return rule; ``None`` inherits the ``[returns]`` value."""

    accepted: Flag | Literal["escalate"] | None = None
    window_days: Days | None = None
    after_days: Days | None = None
    evidence: tuple[Evidence, ...] | None = None
    return_required: Flag | None = None
    return_shipping_paid_by: Payer | None = None
    refund_shipping: Flag | None = None
    refund_percent: Percent | None = None
    restocking_fee_percent: Percent | None = None
    refund_method: RefundMethod | None = None


#: The built-in rules, mirroring what an AliExpress seller typically refunds (DOMAIN.md §1): defects and
#: non-delivery yes, with evidence; changed mind, wrong size and lateness are store decisions: refused.
BUILTIN_REASON_RULES: dict[Reason, dict[str, Any]] = {
    Reason.NOT_AS_DESCRIBED: {"accepted": True, "evidence": ("photos",), "return_required": False},
    Reason.DAMAGED: {"accepted": True, "evidence": ("photos",), "return_required": False},
    Reason.DEFECTIVE: {"accepted": True, "evidence": ("photos",), "return_required": False},
    Reason.WRONG_ITEM: {"accepted": True, "evidence": ("photos",), "return_required": False},
    Reason.WRONG_SIZE: {"accepted": False},
    Reason.CHANGED_MIND: {"accepted": False},
    Reason.NOT_RECEIVED: {
        "accepted": True,
        "evidence": ("tracking",),
        "after_days": 30,
        "return_required": False,
        "refund_shipping": True,
    },
    Reason.LATE: {"accepted": False, "after_days": 30, "return_required": False},
    Reason.OUT_OF_STOCK: {"accepted": False},
    Reason.FRAUD: {"accepted": False},
    Reason.OTHER: {"accepted": "escalate"},
}


class ReasonRules(_Section):
    """One table per reason; a reason not written in the file keeps its built-in rule."""

    not_as_described: ReasonRule = ReasonRule()
    damaged: ReasonRule = ReasonRule()
    defective: ReasonRule = ReasonRule()
    wrong_item: ReasonRule = ReasonRule()
    wrong_size: ReasonRule = ReasonRule()
    changed_mind: ReasonRule = ReasonRule()
    not_received: ReasonRule = ReasonRule()
    late: ReasonRule = ReasonRule()
    out_of_stock: ReasonRule = ReasonRule()
    fraud: ReasonRule = ReasonRule()
    other: ReasonRule = ReasonRule()

    @model_validator(mode="before")
    @classmethod
    def _builtin_under_file(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged: dict[str, Any] = {}
        for reason, builtin in BUILTIN_REASON_RULES.items():
            given = data.get(reason.value, {})
            merged[reason.value] = {**builtin, **given} if isinstance(given, dict) else given
        merged.update({k: v for k, v in data.items() if k not in merged})  # unknown reasons: refused below
        return merged

    def get(self, reason: Reason) -> ReasonRule:
        rule: ReasonRule = getattr(self, Reason(reason).value)
        return rule


class ReturnsSection(_Section):
    window_days: Days = 15
    all_sales_final: Flag = False
    final_sale_except: tuple[Reason, ...] = (
        Reason.NOT_AS_DESCRIBED,
        Reason.DAMAGED,
        Reason.DEFECTIVE,
        Reason.WRONG_ITEM,
        Reason.NOT_RECEIVED,
    )
    final_sale_skus: tuple[str, ...] = ()
    return_required: Flag = True
    return_shipping_paid_by: Payer = Payer.CUSTOMER
    refund_shipping: Flag = False
    refund_percent: Percent = Decimal(100)
    restocking_fee_percent: Percent = Decimal(0)
    refund_method: RefundMethod = RefundMethod.ORIGINAL
    notify_customer: Flag = True
    missing_evidence: Fallback = Fallback.ESCALATE
    reasons: ReasonRules = Field(default_factory=lambda: ReasonRules.model_validate({}))


class EffectiveRule(BaseModel):
    """A reason's rule with every ``[returns]`` default filled in (what ``evaluate`` applies)."""

    model_config = ConfigDict(frozen=True)

    reason: Reason
    accepted: bool | Literal["escalate"]
    final_sale: bool
    window_days: int
    after_days: int
    evidence: tuple[Evidence, ...]
    return_required: bool
    return_shipping_paid_by: Payer
    refund_shipping: bool
    refund_percent: Decimal
    restocking_fee_percent: Decimal
    refund_method: RefundMethod


class SupplierTermsOverride(_Section):
    """A supplier's terms as the store knows them; ``None`` inherits ``[suppliers.default]``."""

    cancel_before_shipment: Flag | None = None
    handling_days: Days | None = None
    refund_reasons: tuple[Reason, ...] | None = None
    return_window_days: Days | None = None
    refunds_shipping: Flag | None = None
    refund_delay_days: Days | None = None
    protection_days: Days | None = None
    recovery_percent: Percent | None = None


class SupplierTerms(BaseModel):
    """Fully resolved terms of one supplier (AliExpress-typical values by default, DOMAIN.md §3)."""

    model_config = ConfigDict(frozen=True)

    name: str = "default"
    cancel_before_shipment: bool = True
    handling_days: int = 7
    refund_reasons: tuple[Reason, ...] = (
        Reason.NOT_AS_DESCRIBED,
        Reason.DAMAGED,
        Reason.DEFECTIVE,
        Reason.WRONG_ITEM,
        Reason.NOT_RECEIVED,
        Reason.LATE,
    )
    return_window_days: int = 15
    refunds_shipping: bool = True
    refund_delay_days: int = 15
    protection_days: int = 60
    recovery_percent: Decimal = Decimal(100)


class EscalationSection(_Section):
    unrecovered_supplier_cost: Literal["allow", "escalate"] = "escalate"
    reasons: tuple[Reason, ...] = (Reason.OTHER,)


class Policy(_Section):
    """The whole policy. ``version`` is the sha256 of its normalized content (see ``canonical_json``)."""

    store: StoreSection = StoreSection()
    cancellation: CancellationSection = CancellationSection()
    returns: ReturnsSection = Field(default_factory=ReturnsSection)
    escalation: EscalationSection = EscalationSection()
    suppliers: dict[str, SupplierTermsOverride] = Field(default_factory=dict)
    exchange_rates: dict[str, dict[str, Annotated[Decimal, Field(gt=0)]]] = Field(default_factory=dict)

    _version: str = PrivateAttr(default="")
    # Resolved rules and terms, computed once per policy (the policy is immutable).
    _rules: dict[Reason, EffectiveRule] = PrivateAttr(default_factory=dict)
    _terms: dict[str, SupplierTerms] = PrivateAttr(default_factory=dict)

    @field_validator("exchange_rates")
    @classmethod
    def _rates_use_currency_codes(cls, value: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
        for source, targets in value.items():
            for code in (source, *targets):
                if not is_currency(code):
                    raise ValueError(f"{code!r} is not an ISO 4217 currency code")
        return {s.upper(): {t.upper(): r for t, r in targets.items()} for s, targets in value.items()}

    def model_post_init(self, context: Any, /) -> None:
        self._version = hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @property
    def version(self) -> str:
        return self._version

    def canonical_json(self) -> str:
        """The normalized content: defaults filled in, keys sorted, numbers without trailing zeros.

        Comments, layout, key order and ``15`` vs ``15.0`` do not change it; any change in meaning does.
        """
        content = self.model_dump(mode="python")
        # Rules and terms as applied (inherited values filled in): writing a value out that equals the
        # inherited one keeps the version; a change of a built-in default changes it.
        content["returns"]["reasons"] = {reason.value: self.rule(reason).model_dump() for reason in Reason}
        content["suppliers"] = {
            name: self.supplier_terms(name).model_dump() for name in ["default", *self.named_suppliers()]
        }
        return json.dumps(_normalize(content), sort_keys=True, separators=(",", ":"))

    def rule(self, reason: Reason) -> EffectiveRule:
        """The rule ``evaluate`` applies for ``reason``: its table over ``[returns]``, "all sales final"
        applied."""
        reason = Reason(reason)
        if reason not in self._rules:
            self._rules[reason] = self._resolve_rule(reason)
        return self._rules[reason]

    def _resolve_rule(self, reason: Reason) -> EffectiveRule:
        returns = self.returns
        given = returns.reasons.get(reason)
        final_sale = returns.all_sales_final and reason not in returns.final_sale_except
        return EffectiveRule(
            reason=reason,
            accepted=False if final_sale else _pick(given.accepted, False),
            final_sale=final_sale,
            window_days=_pick(given.window_days, returns.window_days),
            after_days=_pick(given.after_days, 0),
            evidence=_pick(given.evidence, ()),
            return_required=_pick(given.return_required, returns.return_required),
            return_shipping_paid_by=_pick(given.return_shipping_paid_by, returns.return_shipping_paid_by),
            refund_shipping=_pick(given.refund_shipping, returns.refund_shipping),
            refund_percent=_pick(given.refund_percent, returns.refund_percent),
            restocking_fee_percent=_pick(given.restocking_fee_percent, returns.restocking_fee_percent),
            refund_method=_pick(given.refund_method, returns.refund_method),
        )

    def supplier_terms(self, supplier: str | None) -> SupplierTerms:
        """The terms for ``supplier`` (matched case-insensitively), else ``[suppliers.default]``."""
        wanted = (supplier or "").strip().casefold()
        if wanted not in self._terms:
            self._terms[wanted] = self._resolve_terms(wanted)
        return self._terms[wanted]

    def _resolve_terms(self, wanted: str) -> SupplierTerms:
        values: dict[str, Any] = {}
        default = self.suppliers.get("default")
        if default is not None:
            values.update(default.model_dump(exclude_none=True))
        name = "default"
        for key, override in self.suppliers.items():
            if key != "default" and key.casefold() == wanted:
                values.update(override.model_dump(exclude_none=True))
                name = key
        return SupplierTerms(name=name, **values)

    def named_suppliers(self) -> list[str]:
        return [name for name in self.suppliers if name != "default"]

    def exchange_rate(self, source: str, target: str) -> Decimal | None:
        """Units of ``target`` per unit of ``source`` (1 for the same currency, ``None`` when unknown)."""
        if source.upper() == target.upper():
            return Decimal(1)
        direct = self.exchange_rates.get(source.upper(), {}).get(target.upper())
        if direct is not None:
            return direct
        inverse = self.exchange_rates.get(target.upper(), {}).get(source.upper())
        return None if inverse is None else Decimal(1) / inverse


def _pick(value: _T | None, fallback: _T) -> _T:
    return fallback if value is None else value


def _normalize(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # Every list in a policy is a set (reasons, evidence, SKUs): order and repeats carry no meaning.
        items = {json.dumps(n, sort_keys=True): n for n in map(_normalize, value)}
        return [items[key] for key in sorted(items)]
    return value
