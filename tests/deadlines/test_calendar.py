"""Business-day arithmetic across weekends and the public holidays of several countries.

Every expectation is derived by hand from the country's calendar (noted beside it), not from the code.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from worker.deadlines.calendar import BusinessCalendar
from worker.errors import UsageError

UTC = dt.UTC


def end_of(day: dt.date, tz: str = "UTC") -> dt.datetime:
    """Local midnight after ``day`` in ``tz``, as UTC: the deadline instant for "by the end of ``day``"."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def at(y: int, m: int, d: int, h: int = 10, tz: str = "UTC") -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=ZoneInfo(tz))


@pytest.mark.parametrize(
    ("country", "start", "days", "due_day"),
    [
        # A plain week: Monday + 5 business days = the next Monday.
        ("US", (2026, 3, 2), 5, dt.date(2026, 3, 9)),
        # Friday + 1 skips the weekend.
        ("US", (2026, 3, 6), 1, dt.date(2026, 3, 9)),
        # Saturday start: counting begins Monday.
        ("US", (2026, 3, 7), 1, dt.date(2026, 3, 9)),
        # US Thanksgiving (Thu 26 Nov 2026): Wed + 1 = Fri 27, Wed + 2 = Mon 30.
        ("US", (2026, 11, 25), 1, dt.date(2026, 11, 27)),
        ("US", (2026, 11, 25), 2, dt.date(2026, 11, 30)),
        # US Independence Day observed Fri 3 Jul 2026: Thu 2 + 1 = Mon 6.
        ("US", (2026, 7, 2), 1, dt.date(2026, 7, 6)),
        # Easter 2026 in Germany: Good Friday 3 Apr and Easter Monday 6 Apr: Thu 2 + 1 = Tue 7.
        ("DE", (2026, 4, 2), 1, dt.date(2026, 4, 7)),
        # ...which the US does not observe: Thu 2 + 1 = Fri 3.
        ("US", (2026, 4, 2), 1, dt.date(2026, 4, 3)),
        # German Christmas: 25 and 26 Dec (Fri, Sat): Thu 24 + 1 = Mon 28.
        ("DE", (2026, 12, 24), 1, dt.date(2026, 12, 28)),
        # France: Victory Day Fri 8 May and Ascension Thu 14 May 2026.
        ("FR", (2026, 5, 7), 1, dt.date(2026, 5, 11)),
        ("FR", (2026, 5, 7), 4, dt.date(2026, 5, 15)),
        # China's Spring Festival 2026: Sat 14 Feb is a working day (substituted); 16–20 and Mon 23 are off.
        ("CN", (2026, 2, 13), 1, dt.date(2026, 2, 14)),
        ("CN", (2026, 2, 13), 2, dt.date(2026, 2, 24)),
        # Israel's weekend is Friday–Saturday: Thu 5 Mar + 1 = Sun 8 Mar.
        ("IL", (2026, 3, 5), 1, dt.date(2026, 3, 8)),
    ],
)
def test_add_business_days(country: str, start: tuple[int, int, int], days: int, due_day: dt.date) -> None:
    calendar = BusinessCalendar(country, "UTC")
    assert calendar.add_business_days(at(*start), days) == end_of(due_day)


def test_seven_business_day_handling_window_across_thanksgiving() -> None:
    # Paid Mon 23 Nov 2026: Tue 24, Wed 25, (Thu 26 holiday), Fri 27, Mon 30, Tue 1, Wed 2, Thu 3 Dec.
    assert BusinessCalendar("US").add_business_days(at(2026, 11, 23), 7) == end_of(dt.date(2026, 12, 3))


def test_the_local_day_decides_not_the_utc_day() -> None:
    late_monday_new_york = at(2026, 3, 2, 23, "America/New_York")  # already Tuesday in UTC
    ny = BusinessCalendar("US", "America/New_York")
    assert ny.add_business_days(late_monday_new_york, 1) == end_of(dt.date(2026, 3, 3), "America/New_York")
    utc = BusinessCalendar("US", "UTC")
    assert utc.add_business_days(late_monday_new_york, 1) == end_of(dt.date(2026, 3, 4))


def test_daylight_saving_change_does_not_shift_the_deadline() -> None:
    # US clocks go forward on Sun 8 Mar 2026: the end of Mon 9 Mar is 04:00 UTC, not 05:00.
    ny = BusinessCalendar("US", "America/New_York")
    due = ny.add_business_days(at(2026, 3, 6, 12, "America/New_York"), 1)
    assert due == dt.datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    assert due.astimezone(ZoneInfo("America/New_York")).hour == 0


def test_zero_days_is_the_end_of_the_same_day_and_negative_is_refused() -> None:
    calendar = BusinessCalendar("FR")
    assert calendar.add_business_days(at(2026, 5, 8), 0) == end_of(dt.date(2026, 5, 8))
    with pytest.raises(ValueError):
        calendar.add_business_days(at(2026, 5, 8), -1)


def test_business_days_between() -> None:
    us, de = BusinessCalendar("US"), BusinessCalendar("DE")
    assert us.business_days_between(at(2026, 11, 23), at(2026, 11, 30)) == 4  # Tue, Wed, Fri, Mon
    assert de.business_days_between(at(2026, 4, 1), at(2026, 4, 8)) == 3  # Thu 2, Tue 7, Wed 8
    assert us.business_days_between(at(2026, 3, 9), at(2026, 3, 2)) == 0


def test_holiday_names_and_business_day_checks() -> None:
    de = BusinessCalendar("de")
    assert de.holiday_name(dt.date(2026, 10, 3)) == "German Unity Day"
    assert not de.is_business_day(dt.date(2026, 10, 3))
    assert de.is_business_day(dt.date(2026, 10, 5))
    assert de.holiday_name(dt.date(2026, 10, 5)) is None


def test_configuration_errors_are_one_line_usage_errors() -> None:
    with pytest.raises(UsageError, match="DROPSYNC_HOLIDAY_COUNTRY"):
        BusinessCalendar("XX")
    with pytest.raises(UsageError, match="DROPSYNC_TIMEZONE"):
        BusinessCalendar("US", "Mars/Olympus")
