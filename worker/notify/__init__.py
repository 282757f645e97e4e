"""Alerts delivered outside dropsync (an outgoing webhook, e-mail), once each, through an outbox."""
