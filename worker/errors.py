"""Domain errors. The CLI maps them to one clear line and an exit code; the web layer to a status."""

from __future__ import annotations


class DropsyncError(Exception):
    """Base of every error a person should read as one line (never a traceback)."""

    exit_code = 1


class UsageError(DropsyncError):
    """The caller asked for something malformed (bad argument, unknown name)."""

    exit_code = 2


class NotFoundError(UsageError):
    """The named thing (order, shop, supplier order, intent) does not exist."""


class RefusedError(DropsyncError):
    """A rule refused the action (impossible transition, policy denial). Exit code 1."""

    exit_code = 1
