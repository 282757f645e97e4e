"""A local, schema-faithful Shopify Admin API (2026-10) for tests, demos and benchmarks.

See ``sandbox.py`` for in-process use, ``cli.py`` for ``dropsync sandbox shopify``, and ``control.py`` for
the control API.
"""

from __future__ import annotations

from sandboxes.shopify.config import FaultConfig, SandboxConfig
from sandboxes.shopify.sandbox import SandboxStartError, ShopifySandbox

__all__ = ["FaultConfig", "SandboxConfig", "SandboxStartError", "ShopifySandbox"]
