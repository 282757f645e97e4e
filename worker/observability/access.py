"""Who may read the operational endpoints: ``/metrics`` and the details of ``/readyz``.

They show exposure, intents, alerts, internal addresses and connection errors: not for the public
internet, where the documented production setup binds the web process (``--host 0.0.0.0``). Rules:

* protection is on when ``DROPSYNC_OPS_TOKEN`` is set, and always in production (``DROPSYNC_ENV=production``);
* a protected request must carry ``Authorization: Bearer <token>`` (any of the comma-separated tokens:
  rotate by adding the new one, moving the scrapers, then removing the old), compared in constant time;
* in production without a token nothing is readable: ``/metrics`` answers 401 (set the token);
* ``/healthz`` is always open, and ``/readyz`` always answers its status code and ``{"status": …}``
  (platform probes send no token); only its per-check details need the token.

Both the web process and the worker's metrics endpoint (:func:`wsgi_bearer_guard`) apply it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from typing import Any

from worker.settings import Settings

WWW_AUTHENTICATE = 'Bearer realm="dropsync-ops"'


class OpsGuard:
    def __init__(self, settings: Settings) -> None:
        self.protected = settings.ops_protected
        self._tokens = tuple(token.encode() for token in settings.ops_tokens)

    def allows(self, authorization: str | None) -> bool:
        if not self.protected:
            return True
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return False
        candidate = presented.strip().encode()
        # Every token is compared (no early exit): the time taken does not say which one nearly matched.
        matches = [hmac.compare_digest(candidate, token) for token in self._tokens]
        return any(matches)


StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def wsgi_bearer_guard(app: WsgiApp, guard: OpsGuard) -> WsgiApp:
    """The worker's metrics WSGI app behind the same bearer rule as the web process's ``/metrics``."""

    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if guard.allows(environ.get("HTTP_AUTHORIZATION")):
            return app(environ, start_response)
        start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", WWW_AUTHENTICATE)])
        return [b"unauthorized: send Authorization: Bearer <DROPSYNC_OPS_TOKEN>\n"]

    return guarded
