"""The whole service on one machine: web receiver, Celery worker and beat, and (without Shopify
credentials) both sandboxes with seeded data. Shared by ``dropsync up`` and ``dropsync demo``; part of
the service (``up`` with a real shop runs from the production wheel), the sandboxes imported only when used.

The sandboxes run as threads of this process (the demo drives them through their control API); web,
worker and beat are real child processes that find the sandboxes, the database and the embedded broker
through their environment (``SHOPIFY_API_URL``, ``ALIEXPRESS_API_URL``, credentials, ``DATABASE_URL``).
This process points its own settings at the same values, so what it reads back is what the children wrote.

Invariant: ``Stack.stop`` ends every child (SIGTERM, then SIGKILL after a grace period) and stops the
sandboxes, whatever happened before; a child that dies early is reported, never silently restarted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from worker.devtools import require_development_tools
from worker.errors import DropsyncError
from worker.runtime import ManagedProcess, beat_argv, stop_all, web_argv, worker_argv

if TYPE_CHECKING:
    from sandboxes.aliexpress import AliExpressSandbox
    from sandboxes.shopify import ShopifySandbox

#: Credentials the sandboxes and the children share when no real shop is configured.
SANDBOX_SHOP = "dropsync-demo.myshopify.com"
SANDBOX_TOKEN = "shpat_dropsync_demo"  # a sandbox credential, not a secret
SANDBOX_SECRET = "dropsync-demo-secret"


class StackError(DropsyncError):
    """A part of the stack did not start or died (exit code 1, one line)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (tiny race with other programs; the child fails loudly if it lost it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class StackOptions:
    """What to start, and where its files live."""

    workdir: Path
    use_sandboxes: bool
    seed_orders: int = 20
    seed: int = 8
    concurrency: int = 2
    web_port: int = 0  # 0: a free port
    log_to_files: bool = True  # False: children write to this terminal (`dropsync up`)
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Stack:
    """A running stack; build it with ``start_stack``."""

    options: StackOptions
    env: dict[str, str]
    web_url: str
    shopify: ShopifySandbox | None = None
    aliexpress: AliExpressSandbox | None = None
    processes: list[ManagedProcess] = field(default_factory=list)
    _exits: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def callback_url(self) -> str:
        return f"{self.web_url}/webhooks/shopify"

    def dead(self) -> list[str]:
        """Names of children that exited (a healthy stack returns [])."""
        return [p.name for p in self.processes if not p.alive]

    def check_alive(self) -> None:
        dead = self.dead()
        if dead:
            raise StackError(f"{', '.join(dead)} exited; see {self.log_hint()}")

    def log_hint(self) -> str:
        return str(self.options.workdir / "logs") if self.options.log_to_files else "the output above"

    def stop(self) -> None:
        try:
            stop_all(self.processes)
        finally:
            self._exits.close()


def _sandbox_env(shopify_url: str, aliexpress: AliExpressSandbox, aliexpress_url: str) -> dict[str, str]:
    return {
        "SHOPIFY_SHOP_DOMAIN": SANDBOX_SHOP,
        "SHOPIFY_ACCESS_TOKEN": SANDBOX_TOKEN,
        "SHOPIFY_CLIENT_SECRET": SANDBOX_SECRET,
        "SHOPIFY_API_URL": shopify_url,
        "ALIEXPRESS_API_URL": aliexpress_url,
        "ALIEXPRESS_APP_KEY": aliexpress.config.app_key,
        "ALIEXPRESS_APP_SECRET": aliexpress.config.app_secret,
        "ALIEXPRESS_ACCESS_TOKEN": aliexpress.config.access_token,
        "ALIEXPRESS_REFRESH_TOKEN": aliexpress.config.refresh_token,
        "ALIEXPRESS_GATEWAY_TIMEZONE": aliexpress.config.gateway_timezone,
        # One clock for the stack: advancing the AliExpress sandbox's clock moves dropsync's deadlines too.
        "DROPSYNC_SANDBOX_CLOCK_URL": f"{aliexpress_url}/_sandbox/clock",
    }


def _start_sandboxes(stack: Stack) -> None:
    """Both sandboxes in threads; their URLs and credentials go into the children's environment."""
    require_development_tools()  # a production install has no sandbox: one line, not an ImportError
    from sandboxes.aliexpress import AliExpressSandbox, AliExpressSandboxConfig
    from sandboxes.aliexpress.clock import WallClock
    from sandboxes.shopify import SandboxConfig, ShopifySandbox

    shopify = ShopifySandbox(
        SandboxConfig(
            seed=stack.options.seed, orders=stack.options.seed_orders, plan="advanced",
            shop_domain=SANDBOX_SHOP, access_token=SANDBOX_TOKEN, client_secret=SANDBOX_SECRET,
            webhook_backoff=(0.5, 1.0, 2.0), job_delay_seconds=0.2,
        )
    )  # fmt: skip
    shopify_url = stack._exits.enter_context(shopify.serve())
    stack._exits.callback(shopify.close)
    # Wall clock: supplier timers run in real time, like the worker's own deadlines. Orders the Shopify
    # sandbox names but this one never saw are adopted as paid and awaiting shipment.
    aliexpress = AliExpressSandbox(
        AliExpressSandboxConfig(seed=stack.options.seed, adopt_unknown_orders=True), clock=WallClock()
    )
    aliexpress_url = stack._exits.enter_context(aliexpress.serve())
    stack.shopify, stack.aliexpress = shopify, aliexpress
    stack.env.update(_sandbox_env(shopify_url, aliexpress, aliexpress_url))


def apply_env(env: dict[str, str]) -> None:
    """Point this process's settings and database engine at ``env`` (the children's environment)."""
    from worker.db import reset_engine_cache
    from worker.settings import get_settings

    os.environ.update(env)
    get_settings.cache_clear()
    reset_engine_cache()
    if "worker.celery_app" in sys.modules:  # imported under the old environment: publish to the new broker
        from worker.celery_app import reconfigure

        reconfigure()


def _prepare_ledger() -> None:
    """Migrate and register the configured shop (the receiver verifies webhooks with its secret)."""
    from worker import migrations
    from worker.db import session_scope
    from worker.settings import get_settings
    from worker.shops import ensure_env_shop

    migrations.upgrade(get_settings().sqlalchemy_url)
    with session_scope() as session:
        ensure_env_shop(session, get_settings())


def _child(stack: Stack, name: str, argv: list[str]) -> ManagedProcess:
    log_path = stack.options.workdir / "logs" / f"{name}.log" if stack.options.log_to_files else None
    return ManagedProcess(name, argv, env=stack.env, log_path=log_path).start()


def start_stack(options: StackOptions, say: Callable[[str], None]) -> Stack:
    """Start everything and wait until the receiver answers and the worker consumed a task.

    On any failure everything started so far is stopped before the error propagates.
    """
    options.workdir.mkdir(parents=True, exist_ok=True)
    if options.log_to_files:
        (options.workdir / "logs").mkdir(exist_ok=True)
    port = options.web_port or free_port()
    stack = Stack(options, env=dict(options.extra_env), web_url=f"http://127.0.0.1:{port}")
    try:
        if options.use_sandboxes:
            _start_sandboxes(stack)
            say(f"Shopify sandbox on {stack.env['SHOPIFY_API_URL']} ({options.seed_orders} seeded orders), "
                f"AliExpress sandbox on {stack.env['ALIEXPRESS_API_URL']}")  # fmt: skip
        apply_env(stack.env)
        _prepare_ledger()
        stack.processes.append(_child(stack, "web", web_argv(port)))
        stack.processes.append(_child(stack, "worker", worker_argv(concurrency=options.concurrency)))
        schedule = str(options.workdir / "celerybeat-schedule")
        stack.processes.append(_child(stack, "beat", beat_argv(schedule)))
        _wait_for_web(stack, timeout=30)
        say(f"webhook receiver on {stack.callback_url}")
        _wait_for_worker(stack, timeout=60)
        say(f"worker (concurrency {options.concurrency}) and beat running")
    except BaseException:
        stack.stop()
        raise
    return stack


def _wait_for_web(stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{stack.web_url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise StackError(f"the webhook receiver did not answer on {stack.web_url} within {timeout:.0f} s")


def _wait_for_worker(stack: Stack, timeout: float) -> None:
    """Publish a heartbeat task and wait for the worker's row: proves broker → worker → ledger."""
    from models.types import utcnow
    from worker.db import session_scope
    from worker.system.service import last_heartbeat
    from worker.system.tasks import heartbeat

    since = utcnow()
    heartbeat.delay()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        with session_scope() as session:
            seen = last_heartbeat(session, "worker")
        if seen is not None and seen >= since:
            return
        time.sleep(0.2)
    raise StackError(f"the worker consumed no task within {timeout:.0f} s; see {stack.log_hint()}")


def subscribe_webhooks(stack: Stack, callback_url: str | None = None) -> int:
    """Register dropsync's webhook topics with the configured shop; returns how many topics."""
    from worker.db import session_scope
    from worker.mirror.shops import client_for_shop
    from worker.mirror.subscriptions import subscribe_all
    from worker.settings import get_settings
    from worker.shops import get_shop

    with session_scope() as session:
        shop_id = get_shop(session, get_settings().shopify_shop_domain).id
    with client_for_shop(shop_id) as client:
        return len(subscribe_all(client, callback_url or stack.callback_url))


def send_task(name: str, *args: Any) -> None:
    """Publish a task by its dotted name through the configured broker (the worker runs it)."""
    from worker.celery_app import app

    app.send_task(name, args=list(args))


@contextlib.contextmanager
def running(options: StackOptions, say: Callable[[str], None]) -> Iterator[Stack]:
    stack = start_stack(options, say)
    try:
        yield stack
    finally:
        say("stopping web, worker, beat and the sandboxes…")
        stack.stop()
