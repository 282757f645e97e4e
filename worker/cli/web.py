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
    import uvicorn

    from worker.db import get_engine
    from worker.secrets import check_stored_credentials
    from worker.web.app import create_app

    check_stored_credentials(get_engine())  # a missing or wrong key stops here, in one line (exit 2)

    uvicorn.run(
        create_app(),
        host=host,
        port=port,
        workers=1,
        log_config=None,  # logging is already ours (configure_logging): one format, redacted
        access_log=False,  # our middleware logs each request with its request id instead
        timeout_graceful_shutdown=20,
    )
