"""The worker's AliExpress client, configured from the environment."""

from __future__ import annotations

import structlog

from integrations.aliexpress.client import AliExpressClient
from integrations.aliexpress.models import TokenPair
from worker.errors import UsageError
from worker.settings import Settings, get_settings

log = structlog.get_logger(__name__)


def client_from_settings(settings: Settings | None = None) -> AliExpressClient:
    """A client for ``ALIEXPRESS_API_URL`` with the app's credentials; one line of error when they are missing."""
    s = settings or get_settings()
    key, secret = s.aliexpress_app_key, s.aliexpress_app_secret
    if not key or not secret:
        missing = [name for name, v in (("ALIEXPRESS_APP_KEY", key), ("ALIEXPRESS_APP_SECRET", secret)) if not v]
        raise UsageError(f"{' and '.join(missing)} not set: the AliExpress gateway cannot be called")
    return AliExpressClient(
        base_url=s.aliexpress_api_url,
        app_key=key,
        app_secret=secret,
        access_token=s.aliexpress_access_token,
        refresh_token=s.aliexpress_refresh_token,
        timeout=s.aliexpress_timeout_seconds,
        gateway_timezone=s.aliexpress_gateway_timezone,
        on_tokens=_tokens_refreshed,
    )


def _tokens_refreshed(tokens: TokenPair) -> None:
    # The environment is the token store: a refreshed token lives only in this process until an
    # operator updates ALIEXPRESS_ACCESS_TOKEN / ALIEXPRESS_REFRESH_TOKEN.
    log.warning(
        "aliexpress.tokens_refreshed",
        hint="update ALIEXPRESS_ACCESS_TOKEN and ALIEXPRESS_REFRESH_TOKEN",
        expires_in=tokens.expires_in,
    )
