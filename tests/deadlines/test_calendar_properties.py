"""Properties of business-day arithmetic, for any start instant and count, on several calendars."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as s

from worker.deadlines.calendar import BusinessCalendar

CALENDARS = {
    (country, tz): BusinessCalendar(country, tz)
    for country, tz in [
        ("US", "America/New_York"),
        ("DE", "Europe/Berlin"),
        ("FR", "UTC"),
        ("CN", "Asia/Shanghai"),
        ("IL", "Asia/Jerusalem"),
    ]
}
starts = s.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 1), timezones=s.just(dt.UTC))


@settings(max_examples=300, deadline=None)
@given(calendar=s.sampled_from(sorted(CALENDARS)), start=starts, days=s.integers(min_value=0, max_value=40))
def test_the_deadline_ends_the_nth_business_day(calendar: tuple[str, str], start: dt.datetime, days: int) -> None:
    cal = CALENDARS[calendar]
    due = cal.add_business_days(start, days)
    last_instant = due - dt.timedelta(microseconds=1)
    local_due = due.astimezone(cal.tz)
    assert (local_due.hour, local_due.minute, local_due.second) == (0, 0, 0)  # always a local midnight
    assert due > start
    assert cal.business_days_between(start, last_instant) == days
    if days:
        assert cal.is_business_day(cal.local_date(last_instant))
    assert cal.add_business_days(start, days + 1) > due
