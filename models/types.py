"""Column types shared by the ledger: money, UTC timestamps, JSON, portable ids."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import JSON, BigInteger, DateTime, Integer, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: Primary keys: BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
BigId = BigInteger().with_variant(Integer(), "sqlite")

#: Portable JSON: JSONB on PostgreSQL, JSON text elsewhere.
JsonType = JSON().with_variant(JSONB(), "postgresql")

#: JSON kept as text on every database (PostgreSQL's ``json``: validated, stored as sent), for a document
#: that is stored and read back whole, never searched in SQL: an order's raw snapshot. Writing ``jsonb``
#: parses each ~6 KB document into a tree: 2.2x the server's CPU of ``json`` in a COPY of 20,000 orders.
JsonDocument = JSON()


class MoneyType(TypeDecorator[Decimal]):
    """A money amount: NUMERIC(18, 4), always returned as ``Decimal``, never float.

    Four decimal places cover every ISO 4217 currency (the largest minor unit is 3, e.g. KWD).
    Rounding to the currency's own minor unit is the caller's business (see ``worker.money``).
    """

    impl = Numeric(18, 4, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if not isinstance(value, (Decimal, int)):
            # A float would already have lost cents; refuse it loudly instead of storing a near value.
            raise TypeError(f"money amounts must be Decimal, not {type(value).__name__}")
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.0001"))


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone: stored as naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the ledger stores aware UTC timestamps only")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def bind_processor(self, dialect: Dialect) -> Any:
        """``process_bind_param`` behind a check that an aware UTC value passes as it is (where the driver
        takes datetimes unchanged): it skips TypeDecorator's call chain for the value the ledger writes
        most, a backfill's millions of timestamps."""
        checked = super().bind_processor(dialect)
        if checked is None or self.impl_instance.dialect_impl(dialect).bind_processor(dialect) is not None:
            return checked

        def process(value: dt.datetime | None) -> dt.datetime | None:
            return value if value is None or value.tzinfo is dt.UTC else checked(value)

        return process


class Cipher(Protocol):
    def seal(self, plain: str) -> str: ...

    def reveal(self, stored: str) -> str: ...


class CipherMissing(RuntimeError):
    """A credential was stored or read before the service wired its cipher in (``worker.secrets.install``)."""


_cipher: list[Cipher] = []


def install_cipher(cipher: Cipher) -> None:
    """The ledger knows no keys: the service installs the cipher sealed columns use (once per process)."""
    _cipher[:] = [cipher]


def _the_cipher() -> Cipher:
    if not _cipher:
        raise CipherMissing("no cipher installed for sealed columns: call worker.secrets.install() first")
    return _cipher[0]


class SealedText(TypeDecorator[str]):
    """A credential: sealed (encrypted) on write, opened on read, never stored in plain text.

    The key lives outside the database (see ``worker.secrets``): a dump or backup holds ciphertext only.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _the_cipher().seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _the_cipher().reveal(value)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
