"""The development tools (both sandboxes, the demo) ship only in a checkout: the production wheel leaves
them out (pyproject's wheel target). Commands that need them say so in one line instead of a traceback."""

from __future__ import annotations

from importlib.util import find_spec

from worker.errors import UsageError

DEVELOPMENT_MODULES = ("integrations.shopify.sandbox", "integrations.aliexpress.sandbox", "worker.demo")


class DevelopmentToolsMissing(UsageError):
    """This install is the production wheel: no sandbox, no demo (exit code 2)."""


def require_development_tools() -> None:
    missing = [name for name in DEVELOPMENT_MODULES if find_spec(name) is None]
    if missing:
        raise DevelopmentToolsMissing(
            "the sandboxes are development tools: install dropsync from a checkout with ./run "
            f"(this install has no {', '.join(missing)})"
        )
