"""Credentials at rest: sealed with a key from the environment, never stored in plain text.

What is sealed (``models.types.SealedText`` columns): every shop's Admin API access token and client
secret, the AliExpress access and refresh tokens. A dump or a backup of the database holds ciphertext
only; the environment's own secrets are never copied into it (``aliexpress_tokens.seeded_from`` keeps a
fingerprint of the environment's token, not the token).

Keys (Fernet: AES-128-CBC + HMAC-SHA256), newest first:

- ``DROPSYNC_SECRET_KEY``: ``key[,older key…]`` — new values are sealed with the first, any listed key
  opens; rotate by putting a new key first, running ``dropsync secrets rotate``, then dropping the old;
- else ``DROPSYNC_SECRET_KEY_FILE`` (one key per line, newest first; default ``dropsync-secret.key``
  outside production): outside production the file is created with a fresh key the first time a
  credential is stored, so a development machine or the demo needs no configuration. Production
  (``DROPSYNC_ENV=production``) requires ``DROPSYNC_SECRET_KEY`` (or an existing key file).

Failure modes named: stored credentials and no key, or a key that opens none of them, stop the worker,
beat and web at start-up with one line (:func:`check_stored_credentials`), instead of every Shopify
call failing later. A value stored before sealing existed (plain text) is still read, and sealed by
``dropsync secrets rotate``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Connection, Engine, column, select, table, update

from models.types import install_cipher
from worker.settings import SettingsError, get_settings

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

log = structlog.get_logger(__name__)

#: Marks a sealed value (a Fernet token follows); anything else in a sealed column is legacy plain text.
PREFIX = "fernet:"
#: (table, key column, sealed columns): every credential the ledger stores.
SEALED_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("shops", "id", ("access_token", "client_secret")),
    ("aliexpress_tokens", "app_key", ("access_token", "refresh_token")),
)
DEFAULT_KEY_FILE = "dropsync-secret.key"


class SecretKeyError(SettingsError):
    """The secret key is missing, malformed, or opens none of the stored credentials."""


def generate_key() -> str:
    from cryptography.fernet import Fernet  # imported where used: most commands never open a credential

    return Fernet.generate_key().decode()


def fingerprint(value: str) -> str:
    """A stable, non-reversible stand-in for a secret (to tell whether the environment's token changed)."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:32]


def _key_file() -> Path | None:
    settings = get_settings()
    if settings.secret_key_file:
        return Path(settings.secret_key_file)
    return None if settings.environment == "production" else Path(DEFAULT_KEY_FILE)


def configured_keys() -> list[str]:
    """The keys, newest first (empty: none configured)."""
    settings = get_settings()
    if settings.secret_key:
        return [k.strip() for k in settings.secret_key.split(",") if k.strip()]
    path = _key_file()
    if path is not None and path.exists():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return []


@functools.cache
def _keyring(keys: tuple[str, ...]) -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet

    fernets = []
    for index, key in enumerate(keys):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"DROPSYNC_SECRET_KEY: key #{index + 1} is not a Fernet key "
                "(32 url-safe base64 bytes; make one with `dropsync secrets generate-key`)"
            ) from None
    return MultiFernet(fernets)


def keyring(*, create: bool = False) -> MultiFernet:
    """The configured keys; with ``create`` (storing a credential) outside production a key file is made."""
    keys = configured_keys()
    if not keys and create and (path := _key_file()) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes storing their first credential at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(generate_key() + "\n")
            log.warning("secrets.key_file_created", path=str(path), hint="production: set DROPSYNC_SECRET_KEY")
        except FileExistsError:
            pass
        keys = configured_keys()
    if not keys:
        raise SecretKeyError(
            "DROPSYNC_SECRET_KEY is not set: credentials are stored encrypted with it "
            "(make one with `dropsync secrets generate-key`)"
        )
    return _keyring(tuple(keys))


@dataclass(frozen=True)
class FernetCipher:
    """What ``SealedText`` columns call: seal on write, open on read."""

    def seal(self, plain: str) -> str:
        return PREFIX + keyring(create=True).encrypt(plain.encode()).decode()

    def reveal(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # stored before sealing existed: readable; `dropsync secrets rotate` seals it
        from cryptography.fernet import InvalidToken

        try:
            return keyring().decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                "DROPSYNC_SECRET_KEY opens none of the stored credentials: wrong key? "
                "(when rotating, list the old key after the new one: NEW,OLD)"
            ) from None


def install() -> None:
    """Wire the cipher into the ``SealedText`` columns (``worker.db`` does, for every entry point)."""
    install_cipher(FernetCipher())


def _stored(conn: Connection) -> list[tuple[str, str, str, Any, str]]:
    """Every non-null sealed value: (table, key column, column, key, raw stored value)."""
    found = []
    for name, key, columns in SEALED_COLUMNS:
        for col in columns:
            t = table(name, column(key), column(col))
            for row_key, value in conn.execute(select(t.c[key], t.c[col]).where(t.c[col].is_not(None))):
                if value:
                    found.append((name, key, col, row_key, str(value)))
    return found


def check_stored_credentials(engine: Engine) -> int:
    """Start-up check: the configured key opens every stored credential. Returns how many there are.

    Raises ``SecretKeyError`` (one line) when credentials are stored sealed and the key is missing or wrong.
    A database not migrated yet has nothing to check; one that cannot be reached is not checked.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import OperationalError

    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("shops"):
                return 0
            stored = _stored(conn)
    except OperationalError as exc:
        # The database is down at start-up: not this check's failure to report (/readyz does); the key
        # is checked again where a credential is first opened.
        log.warning("secrets.check_skipped", error=str(exc.orig).splitlines()[0] if exc.orig else str(exc))
        return 0
    sealed = [value for *_, value in stored if value.startswith(PREFIX)]
    if sealed:
        cipher = FernetCipher()
        for value in sealed:
            cipher.reveal(value)
    plain = len(stored) - len(sealed)
    if plain:
        log.warning("secrets.plain_text_credentials", count=plain, fix="dropsync secrets rotate")
    return len(stored)


def rotate(engine: Engine) -> tuple[int, int]:
    """Re-seal every stored credential with the newest key (and seal legacy plain text), one transaction.

    Returns (re-sealed, sealed from plain text). Any listed key may open the old values.
    """
    from cryptography.fernet import InvalidToken

    ring = keyring(create=True)
    resealed = plain = 0
    with engine.begin() as conn:
        for name, key, col, row_key, value in _stored(conn):
            if value.startswith(PREFIX):
                try:
                    new = PREFIX + ring.rotate(value.removeprefix(PREFIX).encode()).decode()
                except InvalidToken:
                    raise SecretKeyError(
                        f"{name}.{col} of {row_key} opens with none of the listed keys: nothing was changed"
                    ) from None
                resealed += 1
            else:
                new = PREFIX + ring.encrypt(value.encode()).decode()
                plain += 1
            t = table(name, column(key), column(col))
            conn.execute(update(t).where(t.c[key] == row_key).values({col: new}))
    return resealed, plain


def keys_summary(keys: Sequence[str]) -> list[str]:
    """Fingerprints of the configured keys (never the keys), newest first."""
    return [fingerprint(k)[:19] for k in keys]
