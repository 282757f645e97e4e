"""The order mirror: webhooks in, reconciliation sweeps and bulk backfills, all applied through one path."""
