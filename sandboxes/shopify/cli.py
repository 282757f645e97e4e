"""What ``dropsync sandbox shopify`` runs: build the config from flags and settings, serve until Ctrl-C."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sandboxes.shopify.config import DEFAULT_ACCESS_TOKEN, FaultConfig, SandboxConfig
from sandboxes.shopify.sandbox import SandboxStartError, ShopifySandbox
from sandboxes.shopify.tls import self_signed as self_signed_files


class SandboxUsageError(ValueError):
    """A flag is out of range or the port is taken (one-line message for the CLI)."""


@dataclass
class Credentials:
    shop_domain: str | None
    access_token: str | None
    client_secret: str | None
    api_version: str


# Seeded orders end an hour before the anchor: a fixed default so a seed gives byte-identical orders across
# restarts. In-process sandboxes (tests, ``dropsync demo``/``up``) keep anchoring at start time, so orders
# stay within the worker's "now"-based windows there.
DEFAULT_ANCHOR = "2026-10-01"


def parse_anchor(text: str) -> datetime | None:
    """``now`` (None: the start time), a date (midnight UTC) or an ISO date-time."""
    if text.strip().lower() == "now":
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SandboxUsageError(f"--anchor-date wants YYYY-MM-DD, an ISO date-time or 'now' (got {text!r})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def tls_files(
    cert: str | None, key: str | None, self_signed: bool, shop_domain: str | None
) -> tuple[str | None, str | None]:
    """The certificate and key to serve HTTPS with: given, generated (``self_signed``), or none (HTTP)."""
    if self_signed:
        if cert or key:
            raise SandboxUsageError("--tls-self-signed makes its own certificate: drop --tls-cert/--tls-key")
        domain = shop_domain or SandboxConfig().shop_domain
        made = self_signed_files(Path(tempfile.mkdtemp(prefix="shopify-sandbox-tls-")), domain)
        return str(made[0]), str(made[1])
    if bool(cert) != bool(key):
        raise SandboxUsageError("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if path and not Path(path).is_file():
            raise SandboxUsageError(f"{flag}: no such file {path}")
    return cert, key


def build_config(
    credentials: Credentials,
    port: int,
    seed: int,
    orders: int,
    plan: str,
    faults: FaultConfig,
    anchor: datetime | None = None,
    tls: tuple[str | None, str | None] = (None, None),
) -> SandboxConfig:
    defaults = SandboxConfig()
    config = SandboxConfig(
        seed=seed,
        orders=orders,
        plan=plan,
        shop_domain=credentials.shop_domain or defaults.shop_domain,
        access_token=credentials.access_token or defaults.access_token,
        client_secret=credentials.client_secret or defaults.client_secret,
        api_version=credentials.api_version,
        port=port,
        faults=faults,
        clock_start=anchor,
        tls_certfile=tls[0],
        tls_keyfile=tls[1],
    )
    try:
        config.validate()
    except ValueError as exc:
        raise SandboxUsageError(str(exc)) from None
    return config


def serve_forever(config: SandboxConfig, subscriptions: list[str], say: Callable[[str], None]) -> None:
    """Serve until interrupted. ``subscriptions``: ``topic=url`` pairs registered at start."""
    sandbox = ShopifySandbox(config)
    for pair in subscriptions:
        topic, _, url = pair.partition("=")
        if not url:
            raise SandboxUsageError(f"--subscribe wants topic=url (got {pair!r})")
        try:
            sandbox.control.subscribe(topic.strip(), url.strip())
        except ValueError as exc:
            raise SandboxUsageError(f"--subscribe {pair}: {exc}") from None
    try:
        with sandbox.serve() as base_url:
            shape = f"{config.orders} orders, seed {config.seed}, plan {config.plan}"
            say(f"Shopify sandbox for {config.shop_domain} on {base_url} ({shape})")
            say(f"  SHOPIFY_API_URL={base_url}  SHOPIFY_API_VERSION={config.api_version}")
            if config.access_token == DEFAULT_ACCESS_TOKEN:  # never echo a token that came from the environment
                say(f"  X-Shopify-Access-Token: {DEFAULT_ACCESS_TOKEN} (default; SHOPIFY_ACCESS_TOKEN sets another)")
            say(f"  GraphQL: POST {base_url}/admin/api/{config.api_version}/graphql.json")
            say(f"  REST: GET {base_url}/admin/api/{config.api_version}/orders.json (shop.json, events.json, ...)")
            if config.tls_certfile:
                say(f"  TLS certificate: {config.tls_certfile} (trust it in your client)")
            say(f"  control API: {base_url}/_sandbox/")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                say("stopped")
    except SandboxStartError as exc:
        raise SandboxUsageError(str(exc)) from None
    finally:
        sandbox.close()
