"""The store's return and cancellation policy: a versioned file, a pure ``evaluate``, a lint.

Import from here: ``load_policy``, ``evaluate``, ``lint``, ``explain`` and the input/decision types.
Only ``worker.policy.adapters`` touches the ledger.
"""

from worker.policy.decision import Action, Decision, LineRefund, SupplierRecovery
from worker.policy.evaluate import InvalidRequestError, evaluate, requested_units
from worker.policy.inputs import (
    Evidence,
    FulfillmentState,
    OrderLine,
    PolicyOrder,
    Reason,
    Request,
    RequestKind,
    SupplierSnapshot,
    SupplierState,
)
from worker.policy.inputs_json import inputs_from_dict, inputs_to_dict
from worker.policy.loader import DEFAULT_POLICY, PolicyFileError, load_policy, parse_policy
from worker.policy.model import Policy
from worker.policy.replay import ReplayError, policy_from_canonical_json, replay

__all__ = [
    "DEFAULT_POLICY",
    "Action",
    "Decision",
    "Evidence",
    "FulfillmentState",
    "InvalidRequestError",
    "LineRefund",
    "OrderLine",
    "Policy",
    "PolicyFileError",
    "PolicyOrder",
    "Reason",
    "ReplayError",
    "Request",
    "RequestKind",
    "SupplierRecovery",
    "SupplierSnapshot",
    "SupplierState",
    "evaluate",
    "inputs_from_dict",
    "inputs_to_dict",
    "load_policy",
    "parse_policy",
    "policy_from_canonical_json",
    "replay",
    "requested_units",
]
