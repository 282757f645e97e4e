"""Chargebacks: Shopify Payments disputes mirrored into the ledger, their evidence deadline, an evidence
pack assembled from what dropsync holds (supplier tracking, the policy, refunds), a recommendation that
joins both sides, and the submission through ``disputeEvidenceUpdate`` as a persisted intent.

Reactions (webhook topics, orders applied) are registered in ``worker.chargebacks.hooks``; the worker loads
it through ``worker.chargebacks.tasks`` (``TASK_MODULES``).
"""
