"""The cancellation workflow's domain errors (one line each; the CLI maps them to exit codes)."""

from __future__ import annotations

from worker.errors import NotFoundError, RefusedError


class ImpossibleTransition(RefusedError):
    """The request cannot move from its state to the one asked (e.g. withdraw after Shopify acted)."""


class RequestAlreadyOpen(RefusedError):
    """The order already has a cancellation request in progress."""


class OrderAlreadyCancelled(RefusedError):
    """Shopify (as mirrored) already shows the order cancelled: there is nothing left to cancel."""


class IntentNotFound(NotFoundError):
    """No Shopify intent with that id."""


class RequestNotFound(NotFoundError):
    """No cancellation request with that id (or for that order)."""


class IntentStateError(RefusedError):
    """An operator action that the intent's state does not allow (retry a succeeded intent…)."""


class NotConfirmed(Exception):
    """A Shopify action that cannot be confirmed as ours: the mutation answered but Shopify does not show its
    effect (the cancel job finished, no ``cancelledAt``), or Shopify shows an effect someone else made (a
    return processed in the admin). The intent fails and a person looks; nothing is sent again."""
