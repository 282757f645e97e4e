"""``dropsync policy``: check a request against the policy, explain it, lint it, validate a file.

``check`` prints the decision and exits 0 whatever it is (a denial is an answer, not an error); a bad
policy file or argument exits 2 with one line.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TypeVar

import typer
from rich.table import Table
from rich.text import Text

from models.types import utcnow
from worker.cli.common import SHOP, console, print_json, settings, unit_of_work
from worker.errors import UsageError
from worker.money import format_money, is_currency
from worker.orders import resolve_order, shop_domain
from worker.policy import Action, Decision, Evidence, Policy, Reason, RequestKind, load_policy
from worker.policy.adapters import check_order, parse_items
from worker.policy.explain import explain as explain_policy
from worker.policy.explain import explain_lines
from worker.policy.lint import lint as lint_policy

app = typer.Typer(help="The store's return and cancellation policy (DROPSYNC_POLICY_FILE).", no_args_is_help=True)

FILE_OPTION = typer.Option(None, "--file", "-f", help="Policy file (default: DROPSYNC_POLICY_FILE, else built-in).")
JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
_E = TypeVar("_E", Reason, RequestKind, Evidence)
VERDICTS = {Action.DENY: "denied", Action.ESCALATE: "a person decides"}


def _say(text: str) -> None:
    """One line of plain text: no markup (keys like [returns] stay literal), no hard wrapping."""
    console.print(text, soft_wrap=True, markup=False, highlight=False)


def _policy(path: str | None) -> tuple[Policy, str]:
    chosen = path if path is not None else settings().policy_file
    return load_policy(chosen), chosen or "built-in default policy"


def _enum_value(kind: type[_E], text: str, option: str) -> _E:
    try:
        return kind(text.strip().lower())
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise UsageError(f"{option}: unknown value {text!r} (choose from {choices})") from None


def _instant(text: str | None) -> dt.datetime:
    if text is None:
        return utcnow()
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at: not an ISO 8601 instant: {text!r} (e.g. 2026-11-20T14:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@app.command("check")
def check(
    order_ref: str = typer.Argument(..., metavar="ORDER", help="#1001, a numeric id or a GID."),
    reason: str = typer.Option(..., "--reason", "-r", help="not_as_described, damaged, wrong_size, changed_mind, …"),
    items: str | None = typer.Option(
        None, "--items", help="LINE:QTY,… (LINE: the line number `orders show` prints, or a SKU; default: all)."
    ),
    shop: str | None = SHOP,
    kind: str = typer.Option("auto", "--kind", help="auto | cancel | return (auto: return once shipped)."),
    evidence: str = typer.Option("", "--evidence", help="What the customer provided: photos,video,tracking,…"),
    at: str | None = typer.Option(None, "--at", help="Decide as of this instant (ISO 8601; default now)."),
    file: str | None = FILE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Print what the policy decides for a request on an order, and why.

    Example: dropsync policy check '#1001' --reason damaged --items 2:1 --evidence photos
    """
    policy, _ = _policy(file)
    wanted_reason = _enum_value(Reason, reason, "--reason")
    wanted_kind = None if kind.strip().lower() == "auto" else _enum_value(RequestKind, kind, "--kind")
    proofs = [_enum_value(Evidence, e, "--evidence") for e in evidence.split(",") if e.strip()]
    now = _instant(at)
    with unit_of_work() as session:
        order = resolve_order(session, order_ref, shop=shop)
        decision = check_order(
            session,
            order,
            policy=policy,
            reason=wanted_reason,
            now=now,
            items=parse_items(order, items),
            kind=wanted_kind,
            evidence=proofs,
        )
        name, domain = order.name, shop_domain(session, order.shop_id)
        titles = {str(item.id): item.title for item in order.line_items}
    if as_json:
        print_json({"shop": domain, "order": name, **decision.to_dict()})
        return
    _print_decision(name, decision, titles)


def _print_decision(order_name: str, decision: Decision, titles: dict[str, str]) -> None:
    cur = decision.currency
    verdict = VERDICTS.get(decision.action, "allowed")
    _say(f"Order {order_name} · {decision.kind.value} · {decision.reason.value} → {decision.action.value} ({verdict})")
    if decision.lines:
        table = Table("line", "item", "qty", "value", "refund", "restock")
        for line in decision.lines:
            restock = "yes" if line.restock else "no"
            title = Text(titles.get(line.line_id, ""))  # a product title is not markup
            table.add_row(line.line_id, title, str(line.quantity), str(line.value), str(line.amount), restock)
        console.print(table, soft_wrap=True)
    if decision.action is not Action.DENY:
        method = "original payment method" if decision.refund_method.value == "original" else "store credit"
        _say(f"Shipping refunded: {format_money(decision.shipping_amount, cur)}")
        if decision.restocking_fee:
            _say(f"Restocking fee kept: {format_money(decision.restocking_fee, cur)}")
        _say(f"Refund total: {format_money(decision.refund_total, cur)} to the {method}")
        _say(f"Expected back from suppliers: {format_money(decision.expected_supplier_recovery, cur)}")
        _say(f"Store exposure: {format_money(decision.store_exposure, cur)}")
    _say(f"Notify the customer: {'yes' if decision.notify_customer else 'no'}")
    _say("Why:")
    for sentence in decision.reasons:
        _say(f"  - {sentence}")
    _say(f"Policy version {decision.policy_version}")


@app.command("explain")
def explain(file: str | None = FILE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Print the policy in words, section by section.

    Example: dropsync policy explain --file policy.toml
    """
    policy, source = _policy(file)
    sections = explain_policy(policy)
    if as_json:
        print_json({"source": source, "version": policy.version, "sections": sections})
        return
    for line in explain_lines(policy, source):
        _say(line)


def _amount(text: str | None, option: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{option}: not an amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise UsageError(f"{option}: must be a non-negative amount, got {text!r}")
    return value


@app.command("lint")
def lint(
    order_value: str | None = typer.Option(
        None, "--order-value", help="Order value (default: store.typical_order_value)."
    ),
    currency: str | None = typer.Option(
        None, "--currency", help="Currency of --order-value (default: store.currency)."
    ),
    shipping: str | None = typer.Option(
        None, "--shipping", help="Shipping per order (default: store.typical_shipping)."
    ),
    file: str | None = FILE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Warn where the store promises more than its suppliers cover, with the money at risk per order.

    Example: dropsync policy lint --order-value 60 --currency EUR
    """
    policy, source = _policy(file)
    if currency is not None and not is_currency(currency):
        raise UsageError(f"--currency: unknown currency {currency!r} (an ISO 4217 code such as USD)")
    warnings = lint_policy(policy, _amount(order_value, "--order-value"), currency, _amount(shipping, "--shipping"))
    if as_json:
        print_json({"source": source, "version": policy.version, "warnings": [w.to_dict() for w in warnings]})
        return
    if not warnings:
        _say(f"{source}: no gaps between the store's promises and its suppliers' terms.")
        return
    for warning in warnings:
        _say(f"- [{warning.code}] {warning.message} (see {warning.key})")
    _say(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''} in {source}.")


@app.command("validate")
def validate(file: str | None = typer.Argument(None, help="Policy file (default: DROPSYNC_POLICY_FILE).")) -> None:
    """Check a policy file; exit 2 with the file, line, key and rule on the first problem.

    Example: dropsync policy validate policy.toml
    """
    policy, source = _policy(file)
    _say(f"{source}: valid (version {policy.version})")
