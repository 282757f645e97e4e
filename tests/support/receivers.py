"""Local receivers for notification tests: an HTTP webhook endpoint and an SMTP server (aiosmtpd).

Both count a delivery only once it is acknowledged on a live connection (HTTP 200 written while the
client still listens; SMTP 250 after DATA): an attempt whose sender died first is an attempt, not a
delivery — the same rule as a real Slack endpoint or mail server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HttpReceiver:
    """POST /hook/<token>: records every attempt; answers ``status`` (default 200)."""

    status: int = 200
    hold_first: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    async def _hook(self, request: Request) -> Response:
        body = json.loads(await request.body())
        entry = {"body": body, "key": request.headers.get("idempotency-key"), "path": request.url.path}
        self.attempts.append(entry)
        if self.hold_first and len(self.attempts) == 1:
            self.holding.set()
            while not self.released.is_set():
                if await request.is_disconnected():
                    return Response(status_code=499)  # the sender died: never acknowledged, not delivered
                await asyncio.sleep(0.05)
        if await request.is_disconnected():
            return Response(status_code=499)
        if self.status == 200:
            self.delivered.append(entry)
        return JSONResponse({"ok": self.status == 200}, status_code=self.status)

    @contextlib.contextmanager
    def serve(self) -> Iterator[HttpReceiver]:
        port = free_port()
        app = Starlette(routes=[Route("/hook/{token}", self._hook, methods=["POST"])])
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}/hook/T0KEN-SECRET-9f8e7d6c"
        try:
            yield self
        finally:
            self.released.set()
            server.should_exit = True
            thread.join(timeout=10)


class _Handler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.receiver.messages.append(message_from_bytes(content))
        return "250 Message accepted for delivery"


@dataclass
class SmtpReceiver:
    """A real SMTP server on localhost (no TLS): ``messages`` holds what it accepted."""

    messages: list[Message] = field(default_factory=list)
    port: int = 0

    @contextlib.contextmanager
    def serve(self) -> Iterator[SmtpReceiver]:
        self.port = free_port()
        controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        controller.start()
        try:
            yield self
        finally:
            controller.stop()
