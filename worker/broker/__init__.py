"""The embedded broker: a kombu transport on a local SQLite file, for machines with no Redis."""

from kombu.transport import TRANSPORT_ALIASES

TRANSPORT_ALIASES.setdefault("dropsync-sqlite", "worker.broker.embedded:Transport")
