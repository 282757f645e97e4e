# kombu's stubs (celery-types) omit the virtual transport's internals this module extends:
# mypy: disable-error-code="attr-defined,override,union-attr,arg-type"
"""A persistent kombu transport on SQLite with acknowledgements that survive a crash.

kombu's own SQLAlchemy and filesystem transports delete a message when it is fetched, so a worker
killed mid-task loses it even with ``acks_late``. Here a fetched message is only *claimed*: it stays in
the table, invisible until ``visible_at``, and is deleted on ack. A message claimed by a process that
has died (same machine: this broker is a local file) is released at once when a channel opens; any
other unacked message comes back after the visibility timeout, like Redis's unacked restore.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from queue import Empty
from typing import Any

from kombu.transport import virtual
from kombu.utils.json import dumps, loads

_SCHEMA = """
CREATE TABLE IF NOT EXISTS broker_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    delivery_tag TEXT,
    visible_at REAL NOT NULL,
    claimed_by INTEGER
);
CREATE INDEX IF NOT EXISTS ix_broker_messages_queue_visible ON broker_messages (queue, visible_at, id);
CREATE INDEX IF NOT EXISTS ix_broker_messages_tag ON broker_messages (delivery_tag);
"""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class QoS(virtual.QoS):
    """Acks delete the row; rejects and restores make it visible again (never insert a copy)."""

    def ack(self, delivery_tag: str) -> None:
        self.channel._delete_claimed(delivery_tag)
        super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue:
            self.channel._release_claimed(delivery_tag)
        else:
            self.channel._delete_claimed(delivery_tag)
        self._quick_ack(delivery_tag)

    def restore_unacked(self) -> list[Any]:
        self._flush()
        for delivery_tag in list(self._delivered):
            self.channel._release_claimed(delivery_tag)
        self._delivered.clear()
        return []


class Channel(virtual.Channel):
    QoS = QoS
    _lock = threading.Lock()

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        options = connection.client.transport_options
        self.visibility_timeout = float(options.get("visibility_timeout", 3600))
        self._db = self._open(connection.client.hostname, connection.client.virtual_host)
        self._release_dead_claims()

    @staticmethod
    def _open(hostname: str | None, virtual_host: str | None) -> sqlite3.Connection:
        path = "/" + (virtual_host or "").lstrip("/") if virtual_host else (hostname or "broker.sqlite3")
        db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    def _release_dead_claims(self) -> None:
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT claimed_by FROM broker_messages WHERE claimed_by IS NOT NULL"
            ).fetchall()
            for (pid,) in rows:
                if pid != os.getpid() and not _pid_alive(pid):
                    self._db.execute(
                        "UPDATE broker_messages SET visible_at = 0, claimed_by = NULL WHERE claimed_by = ?",
                        (pid,),
                    )

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        tag = message.get("properties", {}).get("delivery_tag")
        with self._lock:
            self._db.execute(
                "INSERT INTO broker_messages (queue, payload, delivery_tag, visible_at) VALUES (?, ?, ?, 0)",
                (queue, dumps(message), tag),
            )

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT id, payload FROM broker_messages WHERE queue = ? AND visible_at <= ? ORDER BY id LIMIT 1",
                    (queue, now),
                ).fetchone()
                if row is None:
                    self._db.execute("COMMIT")
                    raise Empty()
                # Claimed, not deleted: if this process dies before the ack, the message comes back.
                self._db.execute(
                    "UPDATE broker_messages SET visible_at = ?, claimed_by = ? WHERE id = ?",
                    (now + self.visibility_timeout, os.getpid(), row[0]),
                )
                self._db.execute("COMMIT")
            except Empty:
                raise
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        message: dict[str, Any] = loads(row[1])
        return message

    def _delete_claimed(self, delivery_tag: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM broker_messages WHERE delivery_tag = ?", (delivery_tag,))

    def _release_claimed(self, delivery_tag: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE broker_messages SET visible_at = 0, claimed_by = NULL WHERE delivery_tag = ?",
                (delivery_tag,),
            )

    def _purge(self, queue: str) -> int:
        with self._lock:
            cursor = self._db.execute("DELETE FROM broker_messages WHERE queue = ?", (queue,))
        return int(cursor.rowcount)

    def _size(self, queue: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM broker_messages WHERE queue = ?", (queue,)).fetchone()
        return int(row[0])

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        self._purge(queue)

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        return None

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return True

    def close(self) -> None:
        super().close()
        with self._lock:
            self._db.close()


class Transport(virtual.Transport):
    Channel = Channel
    default_port = 0
    driver_type = "sqlite"
    driver_name = "dropsync-sqlite"
    polling_interval = 0.05
    implements = virtual.Transport.implements.extend(
        asynchronous=False, exchange_type=frozenset(["direct"]), heartbeats=False
    )

    def driver_version(self) -> str:
        return sqlite3.sqlite_version
