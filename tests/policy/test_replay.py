"""Replaying a stored decision needs the same policy version and the inputs stored with it."""

from __future__ import annotations

import json

import pytest

from tests.policy.factories import NOW, cancel, order, policy, supplier
from worker.policy import DEFAULT_POLICY, ReplayError, evaluate, policy_from_canonical_json, replay


def test_a_decision_carries_its_inputs_and_replays() -> None:
    decision = evaluate(DEFAULT_POLICY, cancel(items={"1": 1}), order(), supplier(), NOW)
    stored = json.loads(json.dumps(decision.to_dict()))
    assert stored["inputs"]["request"] == {
        "kind": "cancel",
        "reason": "changed_mind",
        "items": {"1": 1},
        "evidence": [],
    }
    assert stored["inputs"]["suppliers"][0]["state"] == "awaiting_shipment"
    assert replay(stored, DEFAULT_POLICY) == decision


def test_replay_refuses_another_policy_version_and_a_snapshot_without_inputs() -> None:
    stored = evaluate(DEFAULT_POLICY, cancel(), order(), [], NOW).to_dict()
    with pytest.raises(ReplayError, match="taken under policy"):
        replay(stored, policy("[returns]\nwindow_days = 3\n"))
    with pytest.raises(ReplayError, match="no inputs"):
        replay({**stored, "inputs": {}}, DEFAULT_POLICY)


def test_policies_rebuild_from_their_canonical_json_with_the_same_version() -> None:
    text = (
        '[returns]\nall_sales_final = true\nfinal_sale_except = ["damaged"]\n'
        '[suppliers."Acme"]\nrecovery_percent = 50\n[exchange_rates.USD]\nEUR = 0.9\n'
    )
    for original in (DEFAULT_POLICY, policy(text)):
        assert policy_from_canonical_json(original.canonical_json()).version == original.version
