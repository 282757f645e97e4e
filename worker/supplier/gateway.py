"""The worker's AliExpress client, configured from the environment."""

from __future__ import annotations

from integrations.aliexpress.client import AliExpressClient
from worker.errors import UsageError
from worker.settings import Settings, get_settings
from worker.supplier.tokens import current_tokens, store_tokens


def client_from_settings(settings: Settings | None = None) -> AliExpressClient:
    """A client for ``ALIEXPRESS_API_URL`` with the app's credentials; one line of error when they are missing."""
    s = settings or get_settings()
    key, secret = s.aliexpress_app_key, s.aliexpress_app_secret
    if not key or not secret:
        missing = [name for name, v in (("ALIEXPRESS_APP_KEY", key), ("ALIEXPRESS_APP_SECRET", secret)) if not v]
        raise UsageError(f"{' and '.join(missing)} not set: the AliExpress gateway cannot be called")
    access, refresh = current_tokens(key, s.aliexpress_access_token, s.aliexpress_refresh_token)
    return AliExpressClient(
        base_url=s.aliexpress_api_url,
        app_key=key,
        app_secret=secret,
        access_token=access,
        refresh_token=refresh,
        timeout=s.aliexpress_timeout_seconds,
        gateway_timezone=s.aliexpress_gateway_timezone,
        on_tokens=lambda tokens: store_tokens(key, tokens, s.aliexpress_access_token),
    )
