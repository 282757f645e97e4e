"""Two shops, the same order name in each: every order-addressing command says which, or refuses to guess.
And one meaning for ``--items`` across the CLI: the line number ``orders show`` prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from models import CancellationRequest, Order, Shop, SupplierOrder
from models.types import utcnow
from tests.supplier.factories import make_order
from tests.support.cli import InProcess, in_process
from worker import outbox
from worker.db import session_scope
from worker.settings import get_settings


@pytest.fixture
def two_shops(committed_db: Engine) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with session_scope() as session:
        for domain in ("acme.myshopify.com", "bravo.myshopify.com"):
            shop = Shop(domain=domain)
            session.add(shop)
            session.flush()
            order = make_order(session, shop, lines=[("Phone case", 2), ("Cable", 1)])
            order.name = "#1001"
            order.display_financial_status, order.display_fulfillment_status = "PAID", "UNFULFILLED"
            for line in order.line_items:
                line.refundable_quantity = line.unfulfilled_quantity = line.quantity
            session.flush()
            out[domain] = {"shop": shop.id, "order": order.id, "cable": order.line_items[1].id}
    return out


@pytest.fixture
def cli(
    two_shops: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[InProcess]:
    monkeypatch.delenv("SHOPIFY_SHOP_DOMAIN", raising=False)
    previous = outbox.set_publisher(lambda task, args: None)
    yield in_process(monkeypatch, capsys, {})
    outbox.set_publisher(previous)
    get_settings.cache_clear()


def test_lists_and_json_name_the_shop_and_an_ambiguous_name_is_refused(
    cli: InProcess, two_shops: dict[str, Any]
) -> None:
    code, out, _ = cli("orders", "list", "--json")
    assert code == 0
    assert sorted((r["shop"], r["name"]) for r in json.loads(out)) == [
        ("acme.myshopify.com", "#1001"),
        ("bravo.myshopify.com", "#1001"),
    ]
    code, out, _ = cli("orders", "list")
    assert "acme" in out
    assert "bravo" in out
    code, out, _ = cli("orders", "list", "--shop", "bravo", "--json")
    assert [r["shop"] for r in json.loads(out)] == ["bravo.myshopify.com"]

    code, _, err = cli("orders", "show", "#1001")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "exists in several shops: acme:#1001, bravo:#1001" in err

    code, out, _ = cli("orders", "show", "acme:#1001", "--json")
    assert code == 0
    assert json.loads(out)["order"]["shop"] == "acme.myshopify.com"
    code, out, _ = cli("orders", "show", "#1001", "--shop", "bravo.myshopify.com", "--json")
    assert json.loads(out)["order"]["id"] == two_shops["bravo.myshopify.com"]["order"]
    code, _, err = cli("orders", "show", "bravo:#1001", "--shop", "acme")
    assert code == 2
    code, _, err = cli("orders", "show", "#1001", "--shop", "nope")
    assert code == 2
    assert "unknown shop 'nope' (shops: acme.myshopify.com, bravo.myshopify.com)" in err
    code, _, err = cli("cancel", "status", "#1001")
    assert code == 2
    assert "several shops" in err
    code, _, err = cli("supplier", "show", "#1001")
    assert code == 2
    assert "several shops" in err


def test_items_means_the_line_number_orders_show_prints_in_every_command(
    cli: InProcess, two_shops: dict[str, Any]
) -> None:
    acme = two_shops["acme.myshopify.com"]
    code, out, _ = cli("orders", "show", "acme:#1001")
    assert code == 0
    assert "SKU-CABLE" in out
    code, out, _ = cli("orders", "show", "acme:#1001", "--json")
    lines = json.loads(out)["line_items"]
    assert [(li["line"], li["sku"], li["title"]) for li in lines] == [
        (1, "SKU-PHONE-CASE", "Phone case"),
        (2, "SKU-CABLE", "Cable"),
    ]

    code, out, err = cli("supplier", "link", "#1001", "8123456789012345", "--shop", "acme", "--items", "2:1", "--json")
    assert code == 0, err
    linked = json.loads(out)
    assert linked["shop"] == "acme.myshopify.com"
    assert linked["items"] == [{"line_item_id": acme["cable"], "quantity": 1}]

    code, out, err = cli("policy", "check", "acme:#1001", "--reason", "out_of_stock", "--items", "2:1", "--json")
    assert code == 0, err
    decision = json.loads(out)
    assert decision["shop"] == "acme.myshopify.com"
    assert [line["line_id"] for line in decision["lines"]] == [str(acme["cable"])]

    code, out, err = cli("cancel", "request", "#1001", "--shop", "acme", "--reason", "out_of_stock", "--items", "2:1",
                         "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["shop"] == "acme.myshopify.com"
    with session_scope() as session:
        request = session.scalars(select(CancellationRequest)).one()
        assert request.order_id == acme["order"]
        assert request.items == [{"line_id": str(acme["cable"]), "quantity": 1}]
        so = session.scalars(select(SupplierOrder)).one()
        assert session.get_one(Order, so.order_id).shop_id == acme["shop"]

    code, _, err = cli("cancel", "request", "bravo:#1001", "--reason", "out_of_stock", "--items", "3:1")
    assert code == 2
    assert "no line '3' in order #1001 (lines: 1 (SKU-PHONE-CASE), 2 (SKU-CABLE)" in err


def test_check_per_shop_and_exit_codes(cli: InProcess, two_shops: dict[str, Any]) -> None:
    with session_scope() as session:
        bravo = session.get_one(Order, two_shops["bravo.myshopify.com"]["order"])
        bravo.display_fulfillment_status = "FULFILLED"  # fulfilled, no supplier order linked
        bravo.shopify_created_at = bravo.shopify_updated_at = utcnow()  # within DROPSYNC_CROSSCHECK_WINDOW_DAYS
    code, out, _ = cli("check", "--json")
    assert code == 1
    items = json.loads(out)["items"]
    fulfilled = [i for i in items if i["kind"] == "fulfilled_without_supplier"]
    assert [(i["shop"], i["order"]) for i in fulfilled] == [("bravo.myshopify.com", "#1001")]
    assert fulfilled[0]["command"] == "dropsync supplier link '#1001' ALIEXPRESS_ORDER_NUMBER"
    assert fulfilled[0]["severity"] == "warning"
    code, out, _ = cli("check", "--shop", "acme", "--json")
    assert all(i["shop"] == "acme.myshopify.com" for i in json.loads(out)["items"])
    code, out, _ = cli("check")
    assert "bravo.myshopify.com" in out
