"""The integrations' own error base: ``integrations/`` knows nothing of the service that uses it.

Every failure a person should read as one line derives from ``IntegrationError``; ``exit_code`` is the
code the operator CLI exits with (``worker/cli/main.py`` maps these exactly like the service's own
``DropsyncError``).
"""

from __future__ import annotations


class IntegrationError(Exception):
    """Base of every integration failure a person should read as one line (never a traceback)."""

    exit_code = 1


class IntegrationUsageError(IntegrationError):
    """The caller configured or asked for something malformed (bad shop domain, API version, token)."""

    exit_code = 2
