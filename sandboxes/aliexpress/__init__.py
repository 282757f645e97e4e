"""A local, stateful AliExpress gateway for tests and demos: same URL shapes, same signatures.

``AliExpressSandbox(AliExpressSandboxConfig(seed=1, app_key=…, app_secret=…, access_token=…))``;
``with sandbox.serve() as base_url: …`` runs it on 127.0.0.1 (a free port unless one is given).
Drive the lifecycle with the control methods and ``sandbox.clock.advance(hours=…, days=…)``.
"""

from sandboxes.aliexpress.clock import SandboxClock, WallClock
from sandboxes.aliexpress.server import AliExpressSandbox
from sandboxes.aliexpress.world import AliExpressSandboxConfig, SandboxError, SandboxOrder

__all__ = ["AliExpressSandbox", "AliExpressSandboxConfig", "SandboxClock", "SandboxError", "SandboxOrder", "WallClock"]
