"""``dropsync demo``: a fresh workspace, the whole stack, the story, and a summary read back.

The workspace (default ``./demo-data``) holds the SQLite ledger, the embedded broker, beat's schedule
and one log file per process. It is wiped at start, but only if it is empty or was made by an earlier
demo (it carries a ``.dropsync-demo`` marker): a typo in ``--data-dir`` never deletes someone's files.
The demo always runs on SQLite and the embedded broker with the built-in policy, whatever the
environment (or a ``.env`` file) says, so it behaves the same on every machine.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from rich.text import Text

from sandboxes.aliexpress.world import SandboxError
from sandboxes.demo import chargeback, story
from sandboxes.demo.receiver import NotificationInbox
from sandboxes.demo.summary import build_summary
from sandboxes.shopify.errors import ControlError
from worker.cli.common import console, err_console, print_json
from worker.errors import UsageError
from worker.stack import Stack, StackError, StackOptions, running, subscribe_webhooks

MARKER = ".dropsync-demo"
#: Variables that would point the demo at something other than its own workspace and sandboxes.
IGNORED_ENV = (
    "REDIS_URL", "SHOPIFY_ACCESS_TOKEN", "SHOPIFY_SHOP_DOMAIN", "SHOPIFY_CLIENT_SECRET", "SHOPIFY_API_URL",
    "ALIEXPRESS_API_URL", "ALIEXPRESS_APP_KEY", "ALIEXPRESS_APP_SECRET", "ALIEXPRESS_ACCESS_TOKEN",
    "ALIEXPRESS_REFRESH_TOKEN", "DROPSYNC_POLICY_FILE", "DROPSYNC_PUBLIC_URL",
)  # fmt: skip
NEW_ORDERS = 12


def fresh_workspace(path: Path) -> Path:
    """Create or wipe the workspace; refuses a non-empty directory an earlier demo did not make."""
    path = path.resolve()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"--data-dir {path} is a file, not a directory")
        if any(path.iterdir()) and not (path / MARKER).exists():
            raise UsageError(f"--data-dir {path} is not empty and was not made by `dropsync demo`: choose another")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("made by `dropsync demo`; wiped by the next run\n")
    return path


def demo_env(workspace: Path) -> dict[str, str]:
    for name in IGNORED_ENV:
        os.environ.pop(name, None)
    return {
        "DATABASE_URL": f"sqlite:///{workspace / 'ledger.sqlite3'}",
        "DROPSYNC_EMBEDDED_BROKER_PATH": str(workspace / "broker.sqlite3"),
        # Credentials the demo stores (refreshed AliExpress tokens) are sealed with a key made here.
        "DROPSYNC_SECRET_KEY_FILE": str(workspace / "secret.key"),
        "DROPSYNC_PROTECTION_WARNING_DAYS": "5",
        "DROPSYNC_LOG_FORMAT": "json",
    }


def run_demo(data_dir: Path, *, as_json: bool, step_timeout: float) -> None:
    """Play the story; prints the summary (text or JSON). Raises ``StackError`` when a step stalls."""
    started = time.monotonic()
    workspace = fresh_workspace(data_dir)
    # Settings also read ./.env: from inside the workspace (every path here is absolute) neither this
    # process nor its children pick up a developer's Redis, shop or policy from there.
    os.chdir(workspace)
    # This process only drives and reads: its own info logs (migrations, operator actions) would bury the
    # story; the worker, beat and receiver log everything to the workspace's logs/.
    logging.getLogger().setLevel(logging.WARNING)
    say = _sayer(as_json)
    say(f"workspace: {workspace} (wiped at start; logs in {workspace / 'logs'})")
    with NotificationInbox().serve() as inbox:
        env = {**demo_env(workspace), "DROPSYNC_NOTIFY_WEBHOOK_URL": inbox.url}
        options = StackOptions(workdir=workspace, use_sandboxes=True, extra_env=env)
        summary = _run_stack(options, say, inbox, step_timeout, started)
    if as_json:
        print_json(summary)
    else:
        print_summary(summary)


def _run_stack(
    options: StackOptions, say: Any, inbox: NotificationInbox, step_timeout: float, started: float
) -> dict[str, Any]:
    with running(options, say) as stack:
        try:
            return _play(stack, say, inbox, step_timeout, started)
        except (SandboxError, ControlError) as exc:  # the script asked a sandbox for an impossible step
            raise StackError(f"demo script error: {exc}") from exc


def _sayer(quiet: bool) -> Any:
    def say(message: str) -> None:
        (err_console if quiet else console).print(Text(f"· {message}"))

    return say


def _play(stack: Stack, say: Any, inbox: NotificationInbox, timeout: float, started: float) -> dict[str, Any]:
    say(f"{subscribe_webhooks(stack)} webhook topics subscribed")
    seeded = stack.shopify.state.total_count if stack.shopify else 0
    story.sweep(stack, None, seeded, timeout)
    say(f"first sweep: the {seeded} orders already on the shop are mirrored")
    cast = story.create_orders(stack, NEW_ORDERS)
    say(f"{NEW_ORDERS} new orders placed while Shopify loses 35 % of webhooks")
    story.sweep(stack, cast.new_orders, seeded + NEW_ORDERS, timeout)
    say("the sweep found the orders whose webhooks were lost")
    story.choose_unshipped_fulfilled_order(stack, cast, timeout)
    story.poll_suppliers(stack, cast, timeout)
    say("AliExpress orders linked and polled")
    requests = {"cancel_before_shipment": story.cancel_before_shipment(stack, cast, timeout)}
    say("cancellation before shipment: seller confirmed, Shopify order cancelled and refunded")
    requests["refund_after_fulfillment"] = story.refund_after_fulfillment(stack, cast, timeout)
    say("cancellation after fulfillment: items refunded")
    requests["refused_by_policy"] = story.refused_by_policy(cast)
    say("a request the policy refuses")
    requests["supplier_shipped"] = story.supplier_shipped(stack, cast, timeout)
    say("the seller shipped: the request became a return")
    story.protection_alert(stack, cast, timeout)
    say("buyer-protection alert raised")
    one_sided = story.one_sided_cancellation(stack, cast, inbox, timeout)
    say(f"one-sided cancellation caught: {one_sided['order']} cancelled in Shopify's admin while AliExpress awaits "
        "shipment; the operator's channel was notified")  # fmt: skip
    parts = story.delivered_orders(stack, cast, timeout)
    say("two parcels delivered (the carrier's scan in AliExpress's logistics status)")
    returns = {"damaged_kept": story.damaged_item_return(stack, parts, timeout)}
    say("a damaged item: the customer keeps it, one line refunded on Shopify, recovered from the seller")
    returns["self_serve_declined"] = story.self_serve_return_declined(stack, parts, timeout)
    say("a customer's self-serve return declined under the policy")
    dispute_gid = chargeback.chargeback_won(stack, timeout)
    say("chargeback (not received) answered with the AliExpress tracking: evidence sent, dispute won")
    summary = build_summary(stack, cast, requests, time.monotonic() - started, returns)
    summary["chargeback"] = chargeback.summary(stack, dispute_gid)
    summary["one_sided_cancellation"] = one_sided
    return summary


TITLES = {
    "cancel_before_shipment": "Cancelled before shipment",
    "refund_after_fulfillment": "Cancelled after fulfillment (refund of items)",
    "refused_by_policy": "Refused by the policy",
    "supplier_shipped": "Too late: the supplier shipped",
}


def print_summary(summary: dict[str, Any]) -> None:
    """The summary for a person: every figure comes from ``build_summary``'s read-back."""
    o = summary["orders"]
    lines = [
        "",
        f"dropsync demo finished in {summary['seconds']} s — every figure below is read back from the ledger "
        "and the sandboxes",
        "",
        f"Orders: {o['in_ledger']} in the ledger, {o['in_shopify']} on the shop "
        f"({o['seeded_before_start']} there before start, mirrored by the first sweep; {o['created_during_demo']} "
        "created during the demo)",
        f"  of the {o['placed_while_webhooks_lost']} placed while Shopify lost webhooks, {o['mirrored_from_webhooks']} "
        f"arrived by webhook; Shopify lost {o['webhooks_dropped']} webhook deliveries "
        f"({o['orders_with_lost_webhooks']} orders affected); "
        f"{o['found_only_by_the_sweep']} order(s) never announced by any webhook were found by the sweep",
    ]
    for role, title in TITLES.items():
        lines += ["", *_case_lines(title, summary["cases"][role])]
    for role, title in RETURN_TITLES.items():
        if role in summary.get("returns", {}):
            lines += ["", *_return_lines(title, summary["returns"][role])]
    alert = summary["protection_alert"]
    lines += ["", "Buyer-protection alert:"]
    lines.append(f"  {alert['order']}: [{alert['severity']}] {alert['message']}" if alert else "  none raised")
    if "chargeback" in summary:
        lines += ["", *chargeback.summary_lines(summary["chargeback"])]
    caught = summary["one_sided_cancellation"]
    lines += ["", f"Cancelled in Shopify only: {caught['order']} (the AliExpress order was paid, awaiting shipment)",
              f"  alert: {caught['alert']}", f"  do: {caught['command']}",
              f"  notification sent to the operator's webhook: {caught['notification'].splitlines()[0]}"]  # fmt: skip
    lines += ["", "Exposure (refunded to customers, not yet recovered from suppliers):"]
    for row in summary["exposure"]["orders"]:
        lines.append(f"  {row['order']}: refunded {row['refunded_to_customer']} {row['currency']}, recovered "
                     f"{row['recovered_from_supplier']}, expected back {row['expected_from_supplier']} "
                     f"→ to recover {row['to_recover']} ({row['status']})")  # fmt: skip
    for currency, total in summary["exposure"]["total"].items():
        lines.append(f"  total to recover: {total} {currency}")
    example = summary["cases"]["cancel_before_shipment"]["order"]
    lines += ["", "Look around (the whole story of one order is on its timeline):",
              f"  export DATABASE_URL=sqlite:///{summary['workspace']}/ledger.sqlite3",
              f"  dropsync orders list ;  dropsync orders show '{example}' ;  dropsync report exposure"]  # fmt: skip
    for line in lines:
        console.print(Text(line))


RETURN_TITLES = {
    "damaged_kept": "After delivery: a damaged item, kept by the customer, recovered from the seller",
    "self_serve_declined": "After delivery: a customer's self-serve return the policy declines",
}


def _return_lines(title: str, case: dict[str, Any]) -> list[str]:
    shopify = case["shopify"]
    mutations = ", ".join(f"{k}×{v}" for k, v in sorted(shopify["mutations_applied"].items())) or "none"
    lines = [
        f"{title}: {case['order']} ({case['reason']}, {case['source']})",
        f"  return: {case['state']} (policy decision: {case['policy']}); path: {' → '.join(case['history'])}",
        f"  Shopify: return {shopify['status']}, order refunded {shopify['order_total_refunded']}; "
        f"mutations applied: {mutations}",
        f"  ledger: customer refunds {case['ledger']['customer_refunds']}",
    ]
    if shopify.get("decline"):
        lines.append(f"  declined ({shopify['decline']['reason']}): {shopify['decline']['note']}")
    dispute = (case.get("supplier") or {}).get("dispute")
    if dispute:
        lines.append(f"  AliExpress dispute ({dispute['reason']}): {dispute['outcome']}, {dispute['refund']} back")
    row = case["exposure"]
    lines.append(f"  exposure: refunded {row['refunded_to_customer']}, recovered {row['recovered_from_supplier']} "
                 f"→ to recover {row['to_recover']} ({row['status']})")  # fmt: skip
    return lines


def _case_lines(title: str, case: dict[str, Any]) -> list[str]:
    shopify, ledger = case["shopify"], case["ledger"]
    mutations = ", ".join(f"{k}×{v}" for k, v in sorted(shopify["mutations_applied"].items())) or "none"
    lines = [
        f"{title}: {case['order']} ({case['reason']})",
        f"  request: {case['state']} ({case['kind']}; policy decision: {case['policy']}); "
        f"path: {' → '.join(case['history'])}",
        f"  Shopify: {'cancelled, ' if shopify['cancelled'] else ''}{shopify['financial_status']}, "
        f"refunded {shopify['total_refunded']}; mutations applied: {mutations}",
        f"  ledger: {ledger['financial_status']}, customer refunds {ledger['customer_refunds']}",
    ]
    if case["state"] == "denied":
        lines.append(f"  why: {'; '.join(case['policy_reasons'])}")
    if "became_return" in case:
        r = case["became_return"]
        why = f": {'; '.join(r['policy_reasons'])}" if r["state"] == "denied" else ""
        lines.append(f"  then decided as return {r['id']}: {r['state']} (policy decision: {r['policy']}){why}")
    if "supplier" in case:
        s = case["supplier"]
        end = f" / {s['end_reason']}" if s["end_reason"] else ""
        lines.append(f"  AliExpress {s['order']}: {s['aliexpress_status']}{end} (ledger: {s['ledger_status']})")
    return lines
