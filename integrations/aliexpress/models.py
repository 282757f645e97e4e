"""What the client returns: plain, typed readings of the gateway's JSON (the raw JSON is kept beside)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class RemoteOrder:
    """One ``aliexpress.trade.ds.order.get`` result.

    ``protection_left`` is the buyer-protection countdown the gateway reported (``timeout_left_time``,
    milliseconds) as of ``observed_at``; None when the response carries no countdown.
    """

    order_id: str
    order_status: str
    end_reason: str | None
    logistics_status: str | None
    created_at: dt.datetime | None
    paid_at: dt.datetime | None
    amount: Decimal | None
    currency: str | None
    tracking_numbers: tuple[str, ...]
    protection_left: dt.timedelta | None
    observed_at: dt.datetime
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class TrackingEvent:
    at: dt.datetime | None
    description: str
    name: str | None = None


@dataclass(frozen=True)
class Tracking:
    """One parcel of ``aliexpress.ds.order.tracking.get``: its number, carrier and events (oldest first)."""

    tracking_number: str
    carrier: str | None
    events: tuple[TrackingEvent, ...]


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str | None
    expires_in: int | None
