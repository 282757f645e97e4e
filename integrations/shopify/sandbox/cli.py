"""What ``dropsync sandbox shopify`` runs: build the config from flags and settings, serve until Ctrl-C."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from integrations.shopify.sandbox.config import DEFAULT_ACCESS_TOKEN, FaultConfig, SandboxConfig
from integrations.shopify.sandbox.sandbox import SandboxStartError, ShopifySandbox


class SandboxUsageError(ValueError):
    """A flag is out of range or the port is taken (one-line message for the CLI)."""


@dataclass
class Credentials:
    shop_domain: str | None
    access_token: str | None
    client_secret: str | None
    api_version: str


def build_config(
    credentials: Credentials, port: int, seed: int, orders: int, plan: str, faults: FaultConfig
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
            say(f"  control API: {base_url}/_sandbox/")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                say("stopped")
    except SandboxStartError as exc:
        raise SandboxUsageError(str(exc)) from None
    finally:
        sandbox.close()
