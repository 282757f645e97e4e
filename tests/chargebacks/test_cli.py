"""``dropsync chargebacks list|show|evidence|submit`` end to end: JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from integrations.shopify.client import ShopifyClient
from models import Chargeback, Order, Shop, ShopifyIntent, TimelineEvent
from sandboxes.shopify import ShopifySandbox
from tests.cancellation.conftest import Published, mirror
from tests.chargebacks.conftest import open_and_read
from tests.support.cli import InProcess
from worker.cancellation import execution
from worker.chargebacks import submission, sync
from worker.db import session_scope


def test_list_show_evidence_and_submit(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    row = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED")
    capsys.readouterr()  # the worker's own log lines so far
    code, out, _ = cli("chargebacks", "list", "--json")
    assert code == 0
    [listed] = json.loads(out)["chargebacks"]
    assert (listed["dispute"], listed["status"], listed["reason"]) == (row.dispute_gid, "NEEDS_RESPONSE",
                                                                       "CREDIT_NOT_PROCESSED")  # fmt: skip
    assert listed["recommendation"]["action"] == "show_refund"
    name = listed["order"]

    code, out, _ = cli("deadlines", "--json")  # the evidence deadline is among what needs a person
    assert code == 0
    [due] = [r for r in json.loads(out) if r["kind"].startswith("chargeback_")]
    assert (due["order"], due["kind"], due["due_at"] is not None) == (name, "chargeback_needs_response", True)

    code, out, _ = cli("chargebacks", "show", name)
    assert code == 0
    assert "recommendation: show_refund" in out
    assert f"dropsync chargebacks submit '{name}'" in out  # a command to copy, not a placeholder ("ORDER")
    assert row.dispute_gid in out

    code, out, _ = cli("chargebacks", "evidence", name, "--json")
    assert code == 0
    pack = json.loads(out)
    assert pack["kind"] == "credit_not_processed"
    assert pack["refunds"]
    assert pack["refunds"][0]["id"] in pack["input"]["uncategorizedText"]

    code, out, err = cli("chargebacks", "submit", name)  # no --yes and no one to say yes: nothing sent
    assert code == 1
    assert "nothing submitted" in err
    assert sandbox.control.mutation_counts(gid) == {}

    code, out, _ = cli("chargebacks", "submit", name, "--yes", "--json")
    assert code == 0
    intent_id = json.loads(out)["intent_id"]
    assert published.take().count((submission.SUBMIT_TASK, [intent_id])) == 1
    assert execution.execute_intent(session_scope, intent_id, client) == "succeeded"
    capsys.readouterr()
    code, out, _ = cli("chargebacks", "submit", name, "--yes", "--json")
    assert code == 0
    assert json.loads(out)["intent_id"] == intent_id  # the same submission, not a second one
    assert sandbox.control.mutation_counts(gid) == {"disputeEvidenceUpdate": 1}


def test_bad_input_is_one_line_with_exit_2(cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient,
                                           shop: Shop) -> None:  # fmt: skip
    code, _, err = cli("chargebacks", "list", "--status", "MAYBE")
    assert code == 2
    assert "unknown status 'MAYBE'" in err
    code, _, err = cli("chargebacks", "show", "#99999")
    assert code == 2
    assert "Traceback" not in err
    gid = sandbox.control.create_order(status="paid")
    mirror(client, shop.id, gid)
    code, _, err = cli("chargebacks", "evidence", gid)
    assert code == 2
    assert "has no Shopify Payments dispute" in err


def test_submitting_again_says_it_was_already_submitted_and_a_decided_dispute_is_refused_up_front(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Played on the demo's ledger: `chargebacks submit '#1033' --yes` on the won dispute answered
    "evidence … queued for Shopify …; the worker sends it once" (nothing was queued); on a dispute decided
    before any submission it printed the pack and asked for a yes that could only be refused."""
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED")
    capsys.readouterr()
    code, out, _ = cli("chargebacks", "submit", gid, "--yes", "--json")
    assert code == 0
    first = json.loads(out)
    assert first["already_submitted"] is False
    assert execution.execute_intent(session_scope, first["intent_id"], client) == "succeeded"
    published.take()
    capsys.readouterr()
    code, out, _ = cli("chargebacks", "submit", gid)  # again, without --yes: nothing to confirm
    assert code == 0, out
    assert "already submitted" in out
    assert "queued" not in out.replace("nothing new queued", "")
    code, out, _ = cli("chargebacks", "submit", gid, "--json")
    assert json.loads(out) | {"state": "x"} == first | {"already_submitted": True, "state": "x"}
    assert published.take() == []
    assert sandbox.control.mutation_counts(gid) == {"disputeEvidenceUpdate": 1}

    other = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, other)
    row = open_and_read(sandbox, client, shop.id, other, "CREDIT_NOT_PROCESSED")
    sandbox.control.decide_dispute(row.dispute_gid, "WON")
    assert sync.refresh(session_scope, shop.id, row.dispute_gid, client) == "WON"
    capsys.readouterr()
    code, out, err = cli("chargebacks", "submit", other)  # no pack, no question: Shopify would refuse it
    assert code == 1
    assert "the dispute is WON" in err
    assert "Sent to Shopify" not in out


def test_past_due_is_refused_before_anything_is_queued(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Played with `dropsync up`: a dispute whose evidence was due a minute ago was "queued for Shopify …;
    the worker sends it once", for Shopify to refuse later as a failed intent."""
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED", evidence_due_in_days=1 / 86400)
    time.sleep(1.5)
    published.take()
    capsys.readouterr()
    code, _, err = cli("chargebacks", "submit", gid, "--yes")
    assert code == 1
    assert "was due by" in err
    assert published.take() == []
    with session_scope() as session:
        assert session.scalars(select(ShopifyIntent)).all() == []


def test_an_order_with_two_open_disputes_needs_the_dispute_named(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Played with `dropsync up`: a chargeback and an inquiry on one order; `submit ORDER --yes` sent the
    newest one's pack without saying which, and the other could not be named at all."""
    gid = sandbox.control.create_order(status="partially_refunded")
    mirror(client, shop.id, gid)
    chargeback = open_and_read(sandbox, client, shop.id, gid, "CREDIT_NOT_PROCESSED")
    inquiry = open_and_read(sandbox, client, shop.id, gid, "PRODUCT_UNACCEPTABLE", type="INQUIRY")
    capsys.readouterr()
    for command in ("evidence", "submit"):
        code, _, err = cli("chargebacks", command, gid, "--yes" if command == "submit" else "--json")
        assert code == 2, err
        assert "--dispute" in err
        assert chargeback.dispute_gid.rsplit("/", 1)[-1] in err
        assert inquiry.dispute_gid.rsplit("/", 1)[-1] in err
    assert published.take() == []
    code, out, _ = cli("chargebacks", "evidence", gid, "--dispute", chargeback.dispute_gid, "--json")
    assert code == 0
    assert json.loads(out)["dispute"] == chargeback.dispute_gid
    code, out, _ = cli("chargebacks", "submit", gid, "--yes", "--json", "--dispute",
                       inquiry.dispute_gid.rsplit("/", 1)[-1])  # fmt: skip
    assert code == 0
    assert json.loads(out)["dispute"] == inquiry.dispute_gid
    code, _, err = cli("chargebacks", "evidence", gid, "--dispute", "123")
    assert code == 2
    assert "no dispute '123'" in err


def test_a_dispute_whose_order_is_not_mirrored_yet_names_that_order_and_says_sync_first(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Played with `dropsync up`: the order's webhooks were lost, its dispute's was not; `chargebacks list`
    showed the dispute's GID in the order column and advised "no supplier order is linked"."""
    gid = sandbox.control.create_order(status="fulfilled")  # never mirrored
    open_and_read(sandbox, client, shop.id, gid, "PRODUCT_NOT_RECEIVED")
    capsys.readouterr()
    code, out, _ = cli("chargebacks", "list", "--json")  # the table shows row["order_gid"] + " (not mirrored yet)"
    assert code == 0
    [row] = json.loads(out)["chargebacks"]
    assert (row["order"], row["order_gid"]) == (None, gid)
    assert row["recommendation"]["steps"] == ["dropsync sync reconcile"]
    assert "not mirrored yet" in row["recommendation"]["summary"]


def test_a_person_adds_their_own_words_to_a_pack_the_ledger_cannot_fill(
    cli: InProcess, sandbox: ShopifySandbox, client: ShopifyClient, shop: Shop, published: Published,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Played: a FRAUDULENT chargeback on a paid order nothing was shipped for yet. The ledger holds nothing
    for the bank, submit refuses the empty pack, and no command let a person say what they know."""
    gid = sandbox.control.create_order(status="paid")
    order_id = mirror(client, shop.id, gid)
    row = open_and_read(sandbox, client, shop.id, gid, "FRAUDULENT")
    with session_scope() as session:
        name = session.get_one(Order, order_id).name
    capsys.readouterr()
    code, _, err = cli("chargebacks", "submit", name, "--yes")
    assert code == 1
    assert "empty" in err
    words = "The card holder's address and IP matched; the customer confirmed the order by email on 2 Dec."
    code, out, err = cli("chargebacks", "evidence", name, "--text", words, "--json")
    assert code == 0, err
    assert json.loads(out)["input"]["uncategorizedText"] == words
    code, out, err = cli("chargebacks", "submit", name, "--yes", "--json")
    assert code == 0, err
    with session_scope() as session:
        intent = session.get_one(ShopifyIntent, json.loads(out)["intent_id"])
        assert intent.params["input"]["uncategorizedText"] == words
        assert [e.kind for e in session.scalars(select(TimelineEvent).where(TimelineEvent.order_id == order_id))
                if e.kind == "chargeback.statement"] == ["chargeback.statement"]  # fmt: skip
    code, _, err = cli("chargebacks", "evidence", name, "--text", "x" * 5001)
    assert code == 2
    assert "5001 characters" in err
    code, _, err = cli("chargebacks", "evidence", name, "--text", "something else")
    assert code == 1
    assert "already queued" in err
    with session_scope() as session:
        assert session.get_one(Chargeback, row.id).note == words
