"""dropsync: the service (Celery app, tasks, domain services, webhook receiver, CLI)."""
