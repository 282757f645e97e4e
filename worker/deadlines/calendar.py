"""Business days on a real holiday calendar (the ``holidays`` package), in the store's time zone.

Rule: ``add_business_days(start, n)`` is the **end** (local midnight) of the n-th business day after the
local calendar day of ``start``. So "ship within 7 business days of payment" paid on a Friday afternoon
is due at the end of the 7th working day that follows, whatever the hour of payment; weekends (the
country's own: not always Saturday/Sunday) and public holidays do not count, and a weekend day a country
declares a working day (China's substituted days) does. DST changes cannot shift a deadline by an hour:
the boundary is computed as a local date, then converted to UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from worker.errors import UsageError

MAX_SCAN_DAYS = 3660  # a misconfigured calendar with no working day must not loop forever


class BusinessCalendar:
    def __init__(self, country: str, timezone: str = "UTC", subdivision: str | None = None) -> None:
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise UsageError(f"DROPSYNC_TIMEZONE: unknown time zone {timezone!r}") from exc
        try:
            self._holidays = holidays.country_holidays(country.upper(), subdiv=subdivision)
        except NotImplementedError as exc:
            raise UsageError(f"DROPSYNC_HOLIDAY_COUNTRY: no holiday calendar for {country!r}") from exc
        self.country = country.upper()

    def is_business_day(self, day: dt.date) -> bool:
        return bool(self._holidays.is_working_day(day))

    def holiday_name(self, day: dt.date) -> str | None:
        name = self._holidays.get(day)
        return str(name) if name else None

    def local_date(self, instant: dt.datetime) -> dt.date:
        return instant.astimezone(self.tz).date()

    def add_business_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """End (local midnight, as UTC) of the ``days``-th business day after ``start``'s local day."""
        if days < 0:
            raise ValueError("business days to add must be >= 0")
        day = self.local_date(start)
        counted = 0
        for _ in range(MAX_SCAN_DAYS):
            if counted == days:
                break
            day += dt.timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        else:
            raise UsageError(f"no working days found on the {self.country} calendar")
        return self.end_of_day(day)

    def end_of_day(self, day: dt.date) -> dt.datetime:
        next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=self.tz)
        return next_midnight.astimezone(dt.UTC)

    def business_days_between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Business days strictly after ``start``'s local day, up to and including ``end``'s (0 if end ≤ start)."""
        first, last = self.local_date(start), self.local_date(end)
        count, day = 0, first
        while day < last:
            day += dt.timedelta(days=1)
            count += self.is_business_day(day)
        return count


@functools.cache
def calendar_for(country: str, timezone: str) -> BusinessCalendar:
    return BusinessCalendar(country, timezone)


def default_calendar() -> BusinessCalendar:
    from worker.settings import get_settings

    settings = get_settings()
    return calendar_for(settings.holiday_country, settings.timezone)
