"""The operator CLI end to end: committed ledger, the AliExpress sandbox as gateway, one-line errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.supplier.factories import make_order
from tests.support.cli import in_process
from worker.db import session_scope
from worker.settings import get_settings
from worker.shops import ensure_env_shop

SHOP = "cli-supplier.myshopify.com"


@pytest.fixture
def cli(committed_db, aliexpress_sandbox, monkeypatch, capsys):
    sb = aliexpress_sandbox
    env = {
        "SHOPIFY_SHOP_DOMAIN": SHOP,
        "ALIEXPRESS_API_URL": sb.base_url,
        "ALIEXPRESS_APP_KEY": sb.config.app_key,
        "ALIEXPRESS_APP_SECRET": sb.config.app_secret,
        "ALIEXPRESS_ACCESS_TOKEN": sb.access_token,
        "ALIEXPRESS_REFRESH_TOKEN": sb.config.refresh_token,
        "ALIEXPRESS_GATEWAY_TIMEZONE": sb.config.gateway_timezone,
    }
    yield in_process(monkeypatch, capsys, env)
    get_settings.cache_clear()


def _order() -> str:
    with session_scope() as session:
        shop = ensure_env_shop(session, get_settings())
        return make_order(session, shop, lines=[("Case", 2), ("Cable", 1)]).name


def test_link_poll_cancel_and_refund(cli, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    name, oid = _order(), sb.paid_order("18.00")
    code, out, _ = cli("supplier", "link", name, oid, "--items", "1:2", "--json")
    assert code == 0
    linked = json.loads(out)
    assert linked["order"] == name
    assert [i["quantity"] for i in linked["items"]] == [2]

    code, out, _ = cli("supplier", "poll", oid, "--json")
    assert code == 0
    assert json.loads(out)["supplier_order"]["status"] == "awaiting_shipment"

    assert cli("supplier", "cancel-requested", name)[0] == 0
    sb.request_cancellation(oid)
    sb.seller_accepts_cancellation(oid)
    code, out, _ = cli("supplier", "poll", "--all", "--json")
    assert code == 0
    assert json.loads(out)["outcomes"] == {"changed": 1}

    code, out, _ = cli("supplier", "show", oid, "--json")
    shown = json.loads(out)
    assert shown["status"] == "closed_cancelled"
    assert shown["deadlines"]["refund_due"] is not None
    assert any(e["kind"] == "supplier.refund_expected" for e in shown["timeline"])

    for _ in range(2):  # recorded twice by mistake: counted once
        assert cli("supplier", "refund-received", oid, "18.00", "--reference", "AE-R-1")[0] == 0
    code, out, _ = cli("supplier", "show", name, "--json")
    assert Decimal(json.loads(out)["amount_refunded"]) == Decimal("18.00")

    code, out, _ = cli("supplier", "show", oid)
    assert "closed (cancelled: money comes back)" in out


def test_dispute_commands_and_deadlines(cli, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    name, oid = _order(), sb.paid_order("9.00")
    sb.ship(oid, "LP42")
    cli("supplier", "link", name, oid)
    cli("supplier", "poll", oid)
    code, out, _ = cli("dispute", "open", oid, "--reason", "not_received", "--json")
    assert code == 0
    assert json.loads(out)["checklist"] == {"tracking_snapshot": False, "seller_correspondence": False}
    code, out, _ = cli("dispute", "evidence", oid, "tracking_snapshot", "--snapshot", "--json")
    assert code == 0
    assert json.loads(out)["checklist"]["tracking_snapshot"] is True
    code, out, _ = cli("dispute", "resolve", oid, "refunded", "--refund", "9.00", "--json")
    assert code == 0
    assert Decimal(json.loads(out)["amount_refunded"]) == Decimal("9.00")

    other_name, other = _order(), sb.create_order()
    cli("supplier", "link", other_name, other)
    sb.force_status(other, "WAIT_FOR_MARTIANS")
    cli("supplier", "poll", other)
    code, out, _ = cli("deadlines", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {"order": other_name, "kind": "status_unknown"}.items() <= next(
        r for r in rows if r["supplier_order_id"] == other
    ).items()
    code, out, _ = cli("deadlines")
    assert "status_unknown" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("supplier", "link", "#NOPE", "8123456789012345"), 2, "unknown order '#NOPE'"),
        (("supplier", "show", "8100000000000099"), 2, "unknown supplier order or order"),
        (("supplier", "refund-received", "8100000000000099", "abc"), 2, "not an amount"),
        (("supplier", "cancel-requested", "8100000000000099", "--at", "yesterday"), 2, "not an ISO 8601 time"),
        (("dispute", "open", "8100000000000099", "--reason", "bored"), 2, "unknown supplier order"),
    ],
)
def test_errors_are_one_line(cli, args, code: int, message: str) -> None:
    got, out, err = cli(*args)
    assert got == code
    assert message in err
    assert err.strip().count("\n") == 0
    assert "Traceback" not in err + out


def test_refused_actions_exit_1(cli, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    name, oid = _order(), sb.paid_order()
    sb.ship(oid, "LP1")
    cli("supplier", "link", name, oid)
    cli("supplier", "poll", oid)
    code, _, err = cli("supplier", "cancel-requested", oid)
    assert code == 1
    assert "before the seller ships" in err


def test_missing_credentials_is_a_one_line_error(cli, monkeypatch) -> None:
    monkeypatch.delenv("ALIEXPRESS_APP_SECRET")
    get_settings.cache_clear()
    code, _, err = cli("supplier", "poll")
    assert code == 2
    assert err.strip() == "dropsync: ALIEXPRESS_APP_SECRET not set: the AliExpress gateway cannot be called"


def test_beat_task_bodies_run_against_the_configured_gateway(cli, aliexpress_sandbox) -> None:
    from worker.deadlines.tasks import raise_alerts
    from worker.supplier.tasks import link_recent, poll_due_orders, poll_one

    sb = aliexpress_sandbox
    oid = sb.paid_order()
    with session_scope() as session:
        shop = ensure_env_shop(session, get_settings())
        make_order(session, shop, note_attributes={"aliexpress_order_id": oid})
    assert link_recent() == 1
    assert poll_due_orders() == {"changed": 1}
    assert poll_due_orders() == {}  # nothing due any more
    sb.force_status(oid, "WAIT_FOR_MARTIANS")
    with session_scope() as session:
        from models import SupplierOrder

        so_id = session.scalars(select(SupplierOrder.id)).one()
    assert poll_one(so_id) == "unknown"
    assert raise_alerts() >= 1
    assert raise_alerts() == 0


def test_a_refreshed_token_is_stored_and_reused_by_the_next_process(cli, aliexpress_sandbox, monkeypatch) -> None:
    from models import AliExpressToken
    from worker.supplier.gateway import client_from_settings

    sb = aliexpress_sandbox
    oid = sb.paid_order()
    sb.expire_token()  # the environment's token is now stale
    with client_from_settings() as client:
        client.get_order(oid)
    refreshes = sum(1 for r in sb.requests if "refresh_token" in r)
    assert refreshes == 1
    with session_scope() as session:
        row = session.get(AliExpressToken, sb.config.app_key)
        assert row.access_token == sb.access_token
    with client_from_settings() as client:  # a later task: uses the stored token, no second refresh
        client.get_order(oid)
    assert sum(1 for r in sb.requests if "refresh_token" in r) == refreshes

    monkeypatch.setenv("ALIEXPRESS_ACCESS_TOKEN", "re-authorised-token")
    get_settings.cache_clear()
    with client_from_settings() as client:
        assert client.access_token == "re-authorised-token"  # the operator's new token wins
    with session_scope() as session:
        assert session.get(AliExpressToken, sb.config.app_key) is None


def test_show_and_list_with_a_split_order(cli, aliexpress_sandbox) -> None:
    sb = aliexpress_sandbox
    name, first, second = _order(), sb.paid_order(), sb.paid_order()
    assert cli("supplier", "link", name, first, "--items", "1:2")[0] == 0
    assert cli("supplier", "link", name, second, "--items", "2")[0] == 0
    code, out, _ = cli("supplier", "show", name, "--json")
    assert code == 0
    assert sorted(r["supplier_order_id"] for r in json.loads(out)) == sorted([first, second])
    code, _, err = cli("supplier", "cancel-requested", name)
    assert code == 2
    assert "several supplier orders" in err
    code, out, _ = cli("supplier", "list", "--json")
    rows = {r["supplier_order_id"]: r for r in json.loads(out)}
    assert rows[first]["status_label"] == "not polled yet"
    assert second in rows
    code, out, _ = cli("supplier", "list")
    assert first in out
    code, _, err = cli("supplier", "link", name, sb.paid_order(), "--items", "1:1")
    assert code == 1
    assert "cover 3 of the 2 ordered (2 already covered by other supplier orders)" in err
