"""The operator's chat channel in the demo: a local endpoint that takes Slack-style webhook posts.

``dropsync demo`` points ``DROPSYNC_NOTIFY_WEBHOOK_URL`` at it, so alerts the worker raises arrive here
exactly as they would in a Slack channel (``{"text": …}``); the summary shows what arrived.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class NotificationInbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.url = ""

    def add(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.messages.append(message)

    def containing(self, text: str) -> dict[str, Any] | None:
        with self._lock:
            return next((m for m in self.messages if text in str(m.get("text", ""))), None)

    @contextlib.contextmanager
    def serve(self) -> Iterator[NotificationInbox]:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    inbox.add(json.loads(self.rfile.read(length)))
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/services/demo/alerts"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
