"""Replaying a stored decision: the inputs travel with it (``Decision.to_dict()["inputs"]``), the policy
is found by its version, and ``evaluate`` being pure gives the same decision again.

``policy_from_canonical_json`` rebuilds a policy from ``Policy.canonical_json()`` (keep that text
wherever versions are archived); its version is the same hash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from worker.errors import UsageError
from worker.policy.decision import Decision
from worker.policy.evaluate import evaluate
from worker.policy.inputs_json import inputs_from_dict
from worker.policy.model import Policy


class ReplayError(UsageError):
    """The stored decision cannot be replayed with the policy given (wrong version, no inputs)."""


def replay(stored: Mapping[str, Any], policy: Policy) -> Decision:
    """Evaluate a stored decision's inputs again under ``policy`` (which must be the same version)."""
    if stored.get("policy_version") != policy.version:
        raise ReplayError(
            f"the decision was taken under policy {str(stored.get('policy_version'))[:12]}, "
            f"not {policy.version[:12]}: replay it with that version's policy"
        )
    if not stored.get("inputs"):
        raise ReplayError("the stored decision carries no inputs to replay")
    request, order, suppliers, now = inputs_from_dict(stored["inputs"])
    return evaluate(policy, request, order, suppliers, now)


def policy_from_canonical_json(text: str) -> Policy:
    """Rebuild a policy from ``Policy.canonical_json()``; the result has the same version."""
    data = json.loads(text)
    for rule in data["returns"]["reasons"].values():
        rule.pop("reason", None)
        rule.pop("final_sale", None)
    for terms in data["suppliers"].values():
        terms.pop("name", None)
    return Policy.model_validate(data)
