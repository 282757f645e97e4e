"""The cancellation workflow: supplier confirmation → Shopify cancel or refund, exactly once.

- ``service``: create a request (the policy decides first), approve, withdraw, follow the supplier;
- ``states``: the request's state machine (every move on the timeline and in ``state_history``);
- ``intents``: persisted Shopify intents with their idempotency keys (pending → submitting → …);
- ``execution``: plan from Shopify's current state, perform, adopt what an earlier attempt did;
- ``hooks``: supplier changes, mirrored orders and webhooks that drive requests and close intents;
- ``sweeper``: retries with backoff, hands exhausted intents to a person, dispute alerts;
- ``exposure``: refunded to customers − recovered from suppliers, per order.

The subscribers in ``hooks`` are registered by ``worker.wiring.wire()``, not by importing the package.
"""
