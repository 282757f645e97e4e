"""A tiny in-process hook registry: who wants to hear that a supplier order changed state.

The cancellation workflow subscribes through ``worker.wiring``. ``notify`` calls every callback
synchronously, in registration order, inside the caller's transaction: a callback's writes
commit (or roll back) together with the change itself, and a callback that raises aborts the change
(so a subscriber can never silently miss one). Callbacks must not commit, publish tasks, or call out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy.orm import Session

from models import SupplierOrder
from worker import wiring

SupplierChangeCallback = Callable[[Session, SupplierOrder, str, str], None]

_callbacks: list[SupplierChangeCallback] = []


def on_supplier_change(callback: SupplierChangeCallback) -> SupplierChangeCallback:
    """Register ``callback(session, supplier_order, old_state, new_state)``; usable as a decorator."""
    if callback not in _callbacks:
        _callbacks.append(callback)
    return callback


_wired_tables = threading.Lock()
_pulled: list[bool] = []


def _pull_wired_callbacks(what: str) -> None:
    """The wired subscribers (``worker.wiring.SUPPLIER_CHANGE``), registered on first use."""
    wiring.require_wired(what)
    if _pulled:
        return
    with _wired_tables:
        if not _pulled:
            for callback in wiring.reactions(wiring.SUPPLIER_CHANGE):
                on_supplier_change(callback)
            _pulled.append(True)


def registered_callbacks() -> list[SupplierChangeCallback]:
    if wiring.is_wired():
        _pull_wired_callbacks("registered_callbacks")
    return list(_callbacks)


def remove_supplier_callback(callback: SupplierChangeCallback) -> None:
    if callback in _callbacks:
        _callbacks.remove(callback)


def notify(session: Session, supplier_order: SupplierOrder, old_state: str, new_state: str) -> None:
    """Tell every subscriber; no-op when the state did not change."""
    if old_state == new_state:
        return
    _pull_wired_callbacks("supplier change")
    for callback in list(_callbacks):
        callback(session, supplier_order, old_state, new_state)


_recorded: list[wiring.Reaction] = []


def recorded(session: Session, supplier_order: SupplierOrder) -> None:
    """Tell the wired subscribers (``worker.wiring.SUPPLIER_RECORDED``) that an operator's record changed
    ``supplier_order`` without moving its state (a link, a dispute, a refund), in the caller's transaction."""
    wiring.require_wired("supplier record")
    if not _recorded:
        with _wired_tables:
            if not _recorded:
                _recorded.extend(wiring.reactions(wiring.SUPPLIER_RECORDED))
    for callback in _recorded:
        callback(session, supplier_order)
