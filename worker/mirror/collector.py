"""``few_collections()``: no automatic cyclic garbage collection while a batch job allocates.

Applying orders allocates millions of short-lived, acyclic objects (JSON rows, snapshots, row dicts,
ORM instances) that reference counting frees on its own. With the default thresholds (700, 10, 10) the
cyclic collector kept re-scanning every live object (the batches in flight, SQLAlchemy's and the app's
own) and took about a third of the CPU: a 20,000-order backfill used 7.9 s of CPU with it, 5.2 s with a
50,000-allocation threshold, and spent another 0.8 s of that in first-generation passes.

Inside the window the objects that existed before are frozen (never scanned) and automatic collection is
off; the job calls ``between_batches()`` once a batch is committed, which reclaims the cycles batches leave
(their ``Session``, their transaction). The last window to close restores everything, so nesting and
threads are safe and nothing frozen outlives the job.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_open = 0
_was_enabled = True
_batches = 0


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    global _open, _was_enabled
    with _lock:
        if _open == 0:
            _was_enabled = gc.isenabled()
            gc.freeze()
            gc.disable()
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0:
                gc.unfreeze()
                if _was_enabled:
                    gc.enable()


def between_batches() -> None:
    """Reclaim the cycles of the batches just committed: a young pass every 32nd, a full one every 64th.

    A young pass walks every container object allocated since the last one that is still alive — the
    batches in flight and the one the reader is building: once a batch, it was 2.4 s of a 100,000-order
    backfill's CPU; every 8th batch, 1.19 s (22 passes of 54 ms). What a batch leaves in cycles is small
    (its ``Session``, its transaction), so 32 batches' worth waits for the next pass (peak RSS 229 → 231–232
    MiB at 100,000 orders).

    A young pass alone is not enough: what was still alive when it ran (the other applier's batch, its
    ``Session``) is promoted, and with automatic collection off an older generation is never looked at
    again. A 1,000,000-order backfill grew from 202 to 265 MB that way. A full pass (frozen objects
    excluded) walks the batches in flight, ~70 ms: every 64 batches it costs ~1 ms a batch.
    """
    global _batches
    _batches += 1
    if _batches % 64 == 0:
        gc.collect(2)
    elif _batches % 32 == 0:
        gc.collect(0)


#: glibc's ``mallopt`` parameter for the number of malloc arenas (``M_ARENA_MAX``).
_M_ARENA_MAX = -8


def few_arenas(count: int = 1) -> bool:
    """Cap glibc's malloc arenas for this process (what ``MALLOC_ARENA_MAX`` sets at start-up).

    glibc gives threads that allocate at once arenas of their own, up to 8 per core, and returns little of
    them: the backfill's threads (reader, appliers, exporter) took its peak RSS from 232 to 252 MB for the
    same 100,000 orders, for no measurable speed (the threads take turns on the GIL anyway). Since the
    reader keeps each order's document as JSON bytes that an applier frees, two arenas held 230-233 MB and
    one 184-185 MB, at the same speed. False where the C library is not glibc (nothing changed).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, count))
    except (OSError, AttributeError):
        return False
