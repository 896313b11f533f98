"""The response clock: wall-clock minutes for 24×7, business minutes otherwise (pure functions)."""

import datetime as dt
from zoneinfo import ZoneInfo

from delivery.response_clock import (
    BusinessHours,
    deadline,
    describe_left,
    elapsed_minutes,
    is_met,
    milestones,
)

NY = ZoneInfo("America/New_York")
UTC = dt.UTC


def at(*args, tz=NY):
    return dt.datetime(*args, tzinfo=tz)


def test_24x7_counts_wall_clock_minutes_across_the_spring_forward_night():
    # 01:30 EST + 60 real minutes is 03:30 EDT (02:30 does not exist that night).
    due = deadline(at(2027, 3, 14, 1, 30), minutes=60, business_hours_only=False, tz=NY)
    assert due == at(2027, 3, 14, 3, 30)
    assert due.astimezone(UTC) == at(2027, 3, 14, 7, 30, tz=UTC)


def test_business_hours_deadline_spans_a_weekend_a_holiday_and_the_dst_change():
    # Friday 16:00 EST, 4 business hours: 1 h on Friday; Saturday, Sunday (the clocks spring
    # forward) and Monday (a company holiday) do not count; 3 h on Tuesday from 08:00 EDT.
    received = at(2027, 3, 12, 16, 0)
    due = deadline(
        received, minutes=240, business_hours_only=True, tz=NY, holidays={dt.date(2027, 3, 15)}
    )
    assert due == at(2027, 3, 16, 11, 0)
    assert due.astimezone(UTC) == at(2027, 3, 16, 15, 0, tz=UTC)  # EDT is UTC−4 by then


def test_business_minutes_used_skip_nights_weekends_and_holidays():
    kwargs = {"business_hours_only": True, "tz": NY, "holidays": {dt.date(2027, 3, 15)}}
    received = at(2027, 3, 12, 16, 0)
    assert elapsed_minutes(received, at(2027, 3, 12, 16, 30), **kwargs) == 30
    assert elapsed_minutes(received, at(2027, 3, 15, 12, 0), **kwargs) == 60
    assert elapsed_minutes(received, at(2027, 3, 16, 9, 0), **kwargs) == 120
    assert elapsed_minutes(received, at(2027, 3, 16, 11, 0), **kwargs) == 240


def test_a_request_received_at_night_starts_counting_at_opening():
    due = deadline(at(2027, 6, 2, 22, 15), minutes=240, business_hours_only=True, tz=NY)
    assert due == at(2027, 6, 3, 12, 0)


def test_a_request_received_on_saturday_starts_counting_on_monday():
    due = deadline(at(2027, 6, 5, 10, 0), minutes=60, business_hours_only=True, tz=NY)
    assert due == at(2027, 6, 7, 9, 0)


def test_business_hours_follow_the_customer_zone():
    la = ZoneInfo("America/Los_Angeles")
    due = deadline(at(2027, 6, 7, 8, 0, tz=la), minutes=90, business_hours_only=True, tz=la)
    assert due.astimezone(NY) == at(2027, 6, 7, 12, 30)


def test_the_business_window_is_configurable():
    hours = BusinessHours(opens=dt.time(9, 0), closes=dt.time(12, 0), weekdays=(0, 1, 2, 3, 4, 5))
    due = deadline(at(2027, 6, 4, 11, 0), minutes=120, business_hours_only=True, tz=NY, hours=hours)
    assert due == at(2027, 6, 5, 10, 0)  # Friday 11–12, then Saturday 09–10


def test_business_hours_come_from_settings(settings):
    settings.EMERGENCY_BUSINESS_HOURS = {"opens": "07:30", "closes": "16:00"}
    assert BusinessHours.from_settings() == BusinessHours(opens=dt.time(7, 30), closes=dt.time(16))


def test_milestones_at_50_and_80_percent_and_the_deadline():
    times = milestones(at(2027, 6, 7, 10, 0), minutes=60, business_hours_only=False, tz=NY)
    assert times == {
        50: at(2027, 6, 7, 10, 30),
        80: at(2027, 6, 7, 10, 48),
        100: at(2027, 6, 7, 11, 0),
    }


def test_an_acknowledgment_exactly_at_the_deadline_is_met():
    due = at(2027, 6, 7, 11, 0)
    assert is_met(due, due)
    assert not is_met(due + dt.timedelta(seconds=1), due)


def test_time_left_is_described_plainly():
    assert describe_left(dt.timedelta(minutes=42, seconds=30)) == "42 min left"
    assert describe_left(dt.timedelta(hours=2, minutes=5)) == "2 h 05 min left"
    assert describe_left(dt.timedelta(minutes=-12)) == "overdue by 12 min"
