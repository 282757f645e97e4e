"""dropsync's development tools, beside the service and not in its production wheel.

- ``sandboxes.shopify``: a stateful Shopify Admin API (GraphQL and the REST order-sync subset, webhooks,
  bulk operations, Returns, Payments disputes, throttling, faults), schema-faithful to 2026-10;
- ``sandboxes.aliexpress``: the AliExpress dropshipping API (signing, order statuses, logistics, a clock);
- ``sandboxes.demo``: ``dropsync demo``'s story, played against both on the real stack.

They depend on ``integrations`` (the schema, the cost model, the status words) and the demo on ``worker``;
nothing in ``worker``, ``integrations`` or ``models`` imports them but lazily, from the commands that need a
checkout (``worker.devtools``).
"""
