"""``dropsync sandbox``: the local Shopify and AliExpress sandboxes (for trying dropsync, tests, demos)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the local Shopify and AliExpress sandboxes.", no_args_is_help=True)


@app.callback()
def _development_only() -> None:
    from worker.devtools import require_development_tools

    require_development_tools()  # the production wheel has no sandbox: one line, exit 2


@app.command("aliexpress")
def aliexpress(
    port: int = typer.Option(8702, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
    seed: int = typer.Option(0, "--seed", help="Makes order numbers and demo orders reproducible."),
    demo_orders: int = typer.Option(4, "--demo-orders", min=0, help="Orders created at start, in mixed stages."),
    adopt_unknown: bool = typer.Option(
        True, "--adopt-unknown/--strict", help="Answer for unseen order numbers as paid orders (demos)."
    ),
) -> None:
    """Serve a local AliExpress gateway (same URLs and signatures; control API under /_sandbox).

    Uses ALIEXPRESS_APP_KEY / ALIEXPRESS_APP_SECRET / ALIEXPRESS_ACCESS_TOKEN / ALIEXPRESS_REFRESH_TOKEN
    when set (so the worker's own credentials work against it). Example: dropsync sandbox aliexpress --port 8702
    """
    import threading

    from sandboxes.aliexpress import AliExpressSandbox, AliExpressSandboxConfig, WallClock
    from worker.cli.common import console, settings

    s = settings()
    defaults = AliExpressSandboxConfig()
    config = AliExpressSandboxConfig(
        seed=seed,
        app_key=s.aliexpress_app_key or defaults.app_key,
        app_secret=s.aliexpress_app_secret or defaults.app_secret,
        access_token=s.aliexpress_access_token or defaults.access_token,
        refresh_token=s.aliexpress_refresh_token or defaults.refresh_token,
        gateway_timezone=s.aliexpress_gateway_timezone,
        demo_orders=demo_orders,
        adopt_unknown_orders=adopt_unknown,
    )
    sandbox = AliExpressSandbox(config, clock=WallClock())  # real time; /_sandbox/clock jumps ahead
    with sandbox.serve(port=port) as base_url:
        console.print(f"AliExpress sandbox on {base_url} (app key {config.app_key}); Ctrl-C to stop")
        console.print(f"  ALIEXPRESS_API_URL={base_url}")
        for oid, order in sandbox.world.orders.items():
            console.print(f"  order {oid}: {order.order_status}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            console.print("stopped")


@app.command("shopify")
def shopify(
    port: int = typer.Option(8701, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
    seed: int = typer.Option(1, "--seed", help="Same seed and order count: same orders."),
    orders: int = typer.Option(50, "--orders", min=0, help="Seeded orders (built on demand: a million is fine)."),
    plan: str = typer.Option("standard", "--plan", help="standard|advanced|plus|enterprise (throttle restore rate)."),
    error_rate: float = typer.Option(0.0, "--error-rate", help="Share of API requests answered 502/503."),
    latency: float = typer.Option(0.0, "--latency", help="Seconds added to every API request."),
    timeout_rate: float = typer.Option(0.0, "--timeout-rate", help="Share of requests held --timeout-seconds."),
    timeout_seconds: float = typer.Option(30.0, "--timeout-seconds", help="How long a timed-out request hangs."),
    drop_response_rate: float = typer.Option(0.0, "--drop-response-rate", help="Share run, then connection cut."),
    webhook_duplicate_rate: float = typer.Option(0.0, "--webhook-duplicate-rate", help="Share delivered twice."),
    webhook_out_of_order: bool = typer.Option(False, "--webhook-out-of-order", help="Shuffle deliveries."),
    webhook_drop_rate: float = typer.Option(0.0, "--webhook-drop-rate", help="Share of deliveries never sent."),
    fault_fields: str = typer.Option("", "--fault-fields", help="Apply the request faults only to these root fields."),
    subscribe: list[str] = typer.Option([], "--subscribe", help="topic=url to register at start (repeatable)."),
    anchor_date: str = typer.Option(
        "2026-10-01", "--anchor-date", help="Seeded orders end here (YYYY-MM-DD, ISO time, or 'now'): same bytes."
    ),
    tls_cert: str = typer.Option("", "--tls-cert", help="Serve HTTPS with this PEM certificate (with --tls-key)."),
    tls_key: str = typer.Option("", "--tls-key", help="The PEM private key of --tls-cert."),
    tls_self_signed: bool = typer.Option(False, "--tls-self-signed", help="Serve HTTPS with a generated certificate."),
    disputes: int = typer.Option(0, "--disputes", min=0, help="Shopify Payments disputes on seeded orders."),
) -> None:
    """Serve a local Shopify Admin GraphQL API (2026-10 schema, throttling, webhooks, fault switches).

    Uses SHOPIFY_SHOP_DOMAIN / SHOPIFY_ACCESS_TOKEN / SHOPIFY_CLIENT_SECRET / SHOPIFY_API_VERSION when set,
    so a worker started with the same environment talks to it. Example: dropsync sandbox shopify --orders 1000
    """
    from sandboxes.shopify.cli import (
        Credentials,
        SandboxUsageError,
        build_config,
        parse_anchor,
        serve_forever,
        tls_files,
    )
    from sandboxes.shopify.config import FaultConfig
    from worker.cli.common import console, settings
    from worker.errors import UsageError

    s = settings()
    credentials = Credentials(
        s.shopify_shop_domain, s.shopify_access_token, s.shopify_client_secret, s.shopify_api_version
    )
    faults = FaultConfig(
        error_rate=error_rate,
        latency_seconds=latency,
        timeout_rate=timeout_rate,
        timeout_seconds=timeout_seconds,
        drop_response_rate=drop_response_rate,
        webhook_duplicate_rate=webhook_duplicate_rate,
        webhook_out_of_order=webhook_out_of_order,
        webhook_drop_rate=webhook_drop_rate,
        only_fields=tuple(name.strip() for name in fault_fields.split(",") if name.strip()),
    )
    try:
        anchor = parse_anchor(anchor_date)
        tls = tls_files(tls_cert or None, tls_key or None, tls_self_signed, credentials.shop_domain)
        config = build_config(credentials, port, seed, orders, plan, faults, anchor, tls)
        config.disputes = disputes
        serve_forever(config, subscribe, console.print)
    except SandboxUsageError as exc:
        raise UsageError(f"sandbox shopify: {exc}") from None
