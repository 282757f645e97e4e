"""Returns after shipment: Shopify's Returns API driven by the policy, refunds exactly once, recovery.

- ``service``: open a return (operator, customer webhook, late cancellation), approve / decline, received;
- ``states``: the return's state machine (every move on the timeline and in ``state_history``);
- ``execution``: plan from the return as Shopify shows it now, one persisted intent per mutation, run by
  the cancellation workflow's executor (claim, read first, perform, record);
- ``actions``: the return mutations and how an earlier attempt's effect is recognised;
- ``view`` / ``mapping``: reading returns from Shopify; Shopify's vocabulary ↔ the policy's;
- ``evidence``: what customers sent, stored with their requests;
- ``recovery``: the AliExpress dispute window after a refund the supplier should cover;
- ``hooks``: the ``returns/*`` webhook handlers (wired in ``worker.wiring``).
"""
