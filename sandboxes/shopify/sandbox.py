"""``ShopifySandbox``: one fake shop, usable in-process (tests, demo, benchmarks) or as a server.

sandbox = ShopifySandbox(SandboxConfig(seed=1, orders=50))
with sandbox.serve() as base_url:        # uvicorn in a background thread on 127.0.0.1
    ...                                  # POST {base_url}/admin/api/2026-10/graphql.json
sandbox.control.create_order(...)        # the control API, in-process
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn

from sandboxes.shopify.config import SandboxConfig
from sandboxes.shopify.control import Control
from sandboxes.shopify.cost import LeakyBucket
from sandboxes.shopify.executor import Executor
from sandboxes.shopify.faults import Faults
from sandboxes.shopify.mutations import MutationRoot
from sandboxes.shopify.state import ShopState
from sandboxes.shopify.views.root import QueryRoot
from sandboxes.shopify.webhooks import WebhookDispatcher


class SandboxStartError(RuntimeError):
    """The server could not bind or did not come up."""


class ShopifySandbox:
    """One sandbox shop: state, throttle bucket, executor, webhook dispatcher, faults and control."""

    def __init__(
        self, config: SandboxConfig | None = None, *, bucket_clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``bucket_clock``: monotonic seconds the cost bucket refills by (tests pass one they advance)."""
        self.config = config or SandboxConfig()
        self.config.validate()
        self.state = ShopState(self.config)
        self.bucket = LeakyBucket(self.config.effective_bucket_size, self.config.effective_restore_rate, bucket_clock)
        self.faults = Faults(self.config.faults, self.config.seed)
        self.webhooks = WebhookDispatcher(self.config, self.faults)
        self.executor = Executor(self.state, self.bucket, self._roots)
        self.bulk_dir = Path(tempfile.mkdtemp(prefix="shopify-sandbox-bulk-"))
        self.base_url: str | None = None
        self.control = Control(self)

    def _roots(self) -> tuple[QueryRoot, MutationRoot]:
        return QueryRoot(self.state), MutationRoot(self)

    def graphql_url(self) -> str:
        if self.base_url is None:
            raise SandboxStartError("the sandbox is not serving (use `with sandbox.serve():`)")
        return f"{self.base_url}/admin/api/{self.config.api_version}/graphql.json"

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve HTTP on ``config.host:config.port`` (0: a free port) in a background thread."""
        from sandboxes.shopify.server import build_app

        # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP;
        # without it every keep-alive response stalls ~40 ms on the client's delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            raise SandboxStartError(f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}") from None
        config = uvicorn.Config(
            build_app(self),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=30,
            ssl_certfile=self.config.tls_certfile,
            ssl_keyfile=self.config.tls_keyfile,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="shopify-sandbox", daemon=True)
        thread.start()
        self._wait_started(server, thread)
        host, port = sock.getsockname()[:2]
        scheme = "https" if self.config.tls_certfile else "http"
        self.base_url = f"{scheme}://{host}:{port}"
        self.webhooks.start()
        try:
            yield self.base_url
        finally:
            self.webhooks.stop()
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            self.base_url = None

    @staticmethod
    def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise SandboxStartError("the sandbox HTTP server did not start")
            time.sleep(0.01)

    def close(self) -> None:
        """Stop webhook delivery and remove bulk result files."""
        self.webhooks.stop()
        shutil.rmtree(self.bulk_dir, ignore_errors=True)
