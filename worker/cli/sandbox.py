"""``dropsync sandbox``: the local Shopify and AliExpress sandboxes (for trying dropsync, tests, demos)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the local Shopify and AliExpress sandboxes.", no_args_is_help=True)


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

    from integrations.aliexpress.sandbox import AliExpressSandbox, AliExpressSandboxConfig, WallClock
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
