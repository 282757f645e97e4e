"""A whole-database dump as text, as a backup would hold it (``pg_dump`` on PostgreSQL)."""

from __future__ import annotations

import sqlite3
import subprocess

from sqlalchemy import Engine


def dump_database(engine: Engine) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        assert url.database
        with sqlite3.connect(url.database) as conn:
            return "\n".join(conn.iterdump())
    command = ["pg_dump", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    return subprocess.run([*command, str(url.database)], check=True, capture_output=True, text=True).stdout
