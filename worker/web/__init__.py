"""The web process: health, readiness, metrics, and the routes features register (webhooks)."""
