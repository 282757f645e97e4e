"""The development tools (``sandboxes``: both sandboxes, the demo) ship only in a checkout: the production
wheel leaves them out (pyproject's wheel target). Commands that need them say so in one line instead of a traceback."""

from __future__ import annotations

from importlib.util import find_spec

from worker.errors import UsageError

DEVELOPMENT_MODULES = ("sandboxes.shopify", "sandboxes.aliexpress", "sandboxes.demo")


class DevelopmentToolsMissing(UsageError):
    """This install is the production wheel: no sandbox, no demo (exit code 2)."""


def _present(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package (sandboxes) is missing altogether
        return False


def require_development_tools() -> None:
    missing = [name for name in DEVELOPMENT_MODULES if not _present(name)]
    if missing:
        raise DevelopmentToolsMissing(
            "the sandboxes are development tools: install dropsync from a checkout with ./run "
            f"(this install has no {', '.join(missing)})"
        )
