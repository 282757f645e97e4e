"""Where the AliExpress token pair lives between processes: the ``aliexpress_tokens`` row per app key.

Reads and writes use their own short transactions (``session_scope``): a refresh has already rotated
the pair on AliExpress's side when we hear about it, so it must be stored even if the task that
triggered it rolls back.
"""

from __future__ import annotations

import datetime as dt

import structlog

from integrations.aliexpress.models import TokenPair
from models import AliExpressToken
from models.types import utcnow
from worker.db import session_scope
from worker.secrets import fingerprint, keyring

log = structlog.get_logger(__name__)


def current_tokens(app_key: str, env_access: str | None, env_refresh: str | None) -> tuple[str | None, str | None]:
    """The pair to use: the stored one while it descends from the environment's token, else the environment's."""
    with session_scope() as session:
        row = session.get(AliExpressToken, app_key)
        if row is None:
            return env_access, env_refresh
        if env_access and row.seeded_from != fingerprint(env_access):
            # The operator put a new token in the environment (re-authorised): it supersedes ours.
            session.delete(row)
            return env_access, env_refresh
        return row.access_token, row.refresh_token or env_refresh


def store_tokens(app_key: str, tokens: TokenPair, seeded_from: str | None) -> None:
    """Persist a refreshed pair at once (committed on return), sealed; ``seeded_from`` (the environment's
    access token) is kept as a fingerprint only."""
    now = utcnow()
    keyring(create=True)  # no key: the clear error here, not inside a flush that would quote the tokens
    with session_scope() as session:
        row = session.get(AliExpressToken, app_key)
        if row is None:
            origin = fingerprint(seeded_from) if seeded_from else None
            row = AliExpressToken(app_key=app_key, seeded_from=origin, refreshed_at=now, access_token="")
            session.add(row)
        row.access_token = tokens.access_token
        row.refresh_token = tokens.refresh_token or row.refresh_token
        row.expires_at = now + dt.timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
        row.refreshed_at = now
    log.info("aliexpress.tokens_stored", app_key=app_key, expires_in=tokens.expires_in)
