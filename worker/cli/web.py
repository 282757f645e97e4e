"""``dropsync web``: the HTTP process (webhooks, /healthz, /readyz, /metrics)."""

from __future__ import annotations

import typer


def web(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0 on a platform)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to bind (the platform's $PORT)."),
) -> None:
    """Serve the web app with uvicorn, one process (scale by running more `web` processes).

    Example: dropsync web --host 0.0.0.0 --port 8000
    """
    import structlog
    import uvicorn

    from worker.db import get_engine
    from worker.secrets import check_stored_credentials
    from worker.settings import get_settings
    from worker.web.app import create_app
    from worker.web.protocol import protocol_with_head_timeout

    settings = get_settings()
    check_stored_credentials(get_engine())  # a missing or wrong key stops here, in one line (exit 2)
    if settings.environment == "production" and not settings.ops_tokens:
        structlog.get_logger("dropsync.web").warning(
            "DROPSYNC_OPS_TOKEN is not set: /metrics answers 401 and /readyz gives no details in production"
        )

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        workers=1,
        # Request headers, then the body, must each arrive within the read timeout (slow clients cut: 408).
        http=protocol_with_head_timeout(settings.web_read_timeout_seconds),
        log_config=None,  # logging is already ours (configure_logging): one format, redacted
        access_log=False,  # our middleware logs each request with its request id instead
        timeout_graceful_shutdown=20,
    )
