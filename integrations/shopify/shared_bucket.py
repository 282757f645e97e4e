"""One cost bucket per shop shared by every process: in Redis (a Lua script), or in a SQLite file.

Each worker process modelling the shop's bucket alone lets eight of them spend the same points eight
times: many calls meet THROTTLED and exhaust their retries. Here the model lives in one place and every
request reserves its points atomically before it is sent:

- ``take(cost)``: refill by the time elapsed (restore rate), deduct ``cost`` — the balance may go
  negative: that is the queue — and answer how long to wait until the reservation is covered. First
  come, first served across processes; one round trip per request;
- ``release(points)``: give back what a request that got no cost report took;
- ``observe(status, taken, actual)``: fold in Shopify's figures (the first seeds the model; then what the
  query really cost is given back, and the server is authoritative downwards).

Until the first observation there is nothing to wait for (the first response seeds the model), as in
``throttle.CostBucket``. Times are the store's clock (Redis ``TIME``; the wall clock for the SQLite
file, which serves processes on one machine).

``integrations`` does not read the service's settings: the caller passes the Redis URL (and key prefix)
or the file path (``throttle.share_buckets``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from integrations.shopify import throttle
from integrations.shopify.throttle import ThrottleStatus

#: (available, seconds to wait, known, ticket) after one operation.
Answer = tuple[float, float, bool, float]

TTL_SECONDS = 3600  # an idle shop's model expires: the next response seeds it again
RECHECK_SECONDS = 0.25  # a waiting request looks again this often: points given back shorten its wait

_LUA = """
local key = KEYS[1]
local op = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', key, 'known', 'max', 'rate', 'credit', 'reserved', 'at')
local known = s[1] == '1'
local max = tonumber(s[2]) or 0
local rate = tonumber(s[3]) or 0
local credit = tonumber(s[4]) or 0
local reserved = tonumber(s[5]) or 0
local at = tonumber(s[6]) or now
if known and now > at then credit = math.min(reserved + max, credit + (now - at) * rate) end
local ticket = tonumber(ARGV[2]) or 0
if op == 'take' then
  if known and rate > 0 and ticket > 0 then
    reserved = reserved + ticket
    ticket = reserved
  else
    ticket = 0
  end
elseif op == 'release' then
  if known then credit = math.min(reserved + max, credit + ticket) end
  ticket = 0
elseif op == 'observe' then
  local smax, scur, srate = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local taken, actual = tonumber(ARGV[6]), tonumber(ARGV[7])
  if not known then
    known, credit = true, reserved + scur
  elseif taken > 0 then
    credit = credit + taken - actual
  end
  max, rate = smax, srate
  credit = math.min(credit, reserved + scur, reserved + max)
  ticket = 0
end
local wait = 0
if ticket > credit and rate > 0 then wait = (ticket - credit) / rate end
redis.call('HSET', key, 'known', known and '1' or '0', 'max', max, 'rate', rate, 'credit', credit,
           'reserved', reserved, 'at', now)
redis.call('EXPIRE', key, ARGV[8])
return {tostring(credit - reserved), tostring(wait), known and 1 or 0, tostring(ticket)}
"""


class BucketStore(Protocol):
    def call(self, key: str, op: str, *args: float) -> Answer: ...


def step(state: dict[str, Any], now: float, op: str, args: tuple[float, ...]) -> Answer:
    """The same arithmetic as the Lua script, on a dict (the SQLite store)."""
    known, maximum, rate = bool(state.get("known")), float(state.get("max", 0)), float(state.get("rate", 0))
    credit, reserved = float(state.get("credit", 0)), float(state.get("reserved", 0))
    at = float(state.get("at", now))
    if known and now > at:
        credit = min(reserved + maximum, credit + (now - at) * rate)
    ticket = args[0] if args else 0.0
    if op == "take":
        if known and rate > 0 and ticket > 0:
            reserved += ticket
            ticket = reserved
        else:
            ticket = 0.0
    elif op == "release":
        if known:
            credit = min(reserved + maximum, credit + ticket)
        ticket = 0.0
    elif op == "observe":
        smax, scur, srate, taken, actual = args[1:6]
        if not known:
            known, credit = True, reserved + scur
        elif taken > 0:
            credit += taken - actual
        maximum, rate = smax, srate
        credit = min(credit, reserved + scur, reserved + maximum)
        ticket = 0.0
    wait = (ticket - credit) / rate if ticket > credit and rate > 0 else 0.0
    state.update(known=known, max=maximum, rate=rate, credit=credit, reserved=reserved, at=now)
    return credit - reserved, wait, known, ticket


class RedisStore:
    def __init__(self, url: str, prefix: str = "") -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA)
        self._prefix = prefix

    def call(self, key: str, op: str, *args: float) -> Answer:
        padded = [*args, *([0.0] * (6 - len(args)))]
        answer = self._script(keys=[f"{self._prefix}shopify-bucket:{key}"], args=[op, *padded, TTL_SECONDS])
        avail, wait, known, ticket = answer
        return float(avail), float(wait), bool(int(known)), float(ticket)


_COLUMNS = ("known", "max", "rate", "credit", "reserved", "at")


class SqliteStore:
    """The embedded setup (one machine): the model in a SQLite file, each operation one IMMEDIATE
    transaction (the file lock serialises processes)."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self._path, self._clock = str(path), clock
        self._local = threading.local()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, known INTEGER, max REAL, "
                       "rate REAL, credit REAL, reserved REAL, at REAL)")  # fmt: skip

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # No fsync per operation (two a Shopify call): a power cut may forget the last updates, which
            # the next response corrects (the server's figures are authoritative); the file stays whole.
            # Beside a 100k backfill's writes, these commits held its exporter thread 5 s of its 88.
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def call(self, key: str, op: str, *args: float) -> Answer:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT known, max, rate, credit, reserved, at FROM buckets WHERE key = ?", (key,)
            ).fetchone()
            state = dict(zip(_COLUMNS, row, strict=True)) if row else {}
            answer = step(state, self._clock(), op, args)
            db.execute(
                "INSERT OR REPLACE INTO buckets (key, known, max, rate, credit, reserved, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, int(state["known"]), *(state[c] for c in _COLUMNS[1:])),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return answer


class SharedCostBucket:
    """``throttle.CostBucket``'s interface over a :class:`BucketStore` (what the client calls)."""

    def __init__(self, store: BucketStore, key: str, sleep: Callable[[float], object] = time.sleep) -> None:
        self._store, self._key, self._sleep = store, key, sleep
        self._known = False
        self.last_status: ThrottleStatus | None = None

    @property
    def known(self) -> bool:
        """Whether any process has seen Shopify's figures for this shop yet (asks the store)."""
        if not self._known:
            _, _, self._known, _ = self._store.call(self._key, "peek")
        return self._known

    def available(self) -> float:
        avail, _, self._known, _ = self._store.call(self._key, "peek")
        return avail

    def acquire(self, cost: float) -> float:
        """Reserve ``cost`` points (a ticket in the shop's queue) and wait until the points before it and
        its own are covered; the seconds waited. Points other requests give back (a query cheaper than
        requested, a failed send) shorten the wait: it is re-checked at least every ``RECHECK`` seconds."""
        _, wait, self._known, ticket = self._store.call(self._key, "take", max(cost, 0.0))
        waited = 0.0
        while wait > 0:
            nap = min(wait, RECHECK_SECONDS)
            self._sleep(nap)
            waited += nap
            _, wait, _, _ = self._store.call(self._key, "check", ticket)
        return waited

    def release(self, taken: float) -> None:
        if taken > 0:
            self._store.call(self._key, "release", taken)

    def observe(self, status: ThrottleStatus, *, taken: float = 0.0, actual: float | None = None) -> None:
        self.last_status = status
        spent = taken if actual is None else actual
        args = (0.0, status.maximum_available, status.currently_available, status.restore_rate, taken, spent)
        _, _, self._known, _ = self._store.call(self._key, "observe", *args)


def share_buckets(*, redis_url: str | None = None, prefix: str = "", path: str | Path | None = None) -> None:
    """Every process of the deployment shares each shop's bucket: in Redis when ``redis_url`` is given,
    else in the SQLite file ``path``. Idempotent for the same arguments."""
    global _configured
    wanted = (redis_url, prefix, str(path) if path else None)
    with _configure_lock:
        if _configured == wanted:
            return
        if redis_url:
            store: BucketStore = RedisStore(redis_url, prefix)
        elif path:
            store = SqliteStore(path)
        else:
            raise ValueError("share_buckets: give a Redis URL or a file path")
        throttle.use_shared_buckets(lambda key: SharedCostBucket(store, key))
        _configured = wanted


_configure_lock = threading.Lock()
_configured: tuple[str | None, str, str | None] | None = None
