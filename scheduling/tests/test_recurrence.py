"""Tests for scheduling.recurrence (pure Python: no Django, no database, no "now")."""

import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.recurrence import (
    FREQUENCIES,
    ORDINALS,
    WEEKDAYS,
    RecurrenceError,
    RuleParts,
    _compiled,
    build_rrule,
    describe,
    local_to_utc,
    next_occurrences,
    occurrences,
    parse_rrule,
    to_local,
    validate_rule,
)

UTC = dt.UTC
NY = "America/New_York"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
YEAR_2027 = {"start": dt.date(2027, 1, 1), "end": dt.date(2028, 1, 1)}


def run(rule, start_time=dt.time(10, 0), duration=120, tz=NY, **window):
    """Expand `rule` with the common defaults used across these tests."""
    window = window or YEAR_2027
    return occurrences(rule, start_time=start_time, duration_minutes=duration, tz=tz, **window)


def local_dates(items, tz=NY):
    return [to_local(start, tz).date() for start, _ in items]


# --- constants ---------------------------------------------------------------------------


def test_public_constants_have_the_documented_values():
    assert FREQUENCIES == ("weekly", "monthly")
    assert ORDINALS == {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
    assert WEEKDAYS == ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
    assert issubclass(RecurrenceError, ValueError)


def test_module_imports_without_django():
    # A fresh interpreter, because pytest-django may already have imported Django here.
    code = (
        "import sys, scheduling.recurrence; print(any(m.startswith('django') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- occurrences -------------------------------------------------------------------------


def test_third_wednesday_gives_twelve_wall_clock_visits_across_both_dst_changes():
    items = run("FREQ=MONTHLY;BYDAY=+3WE")

    assert len(items) == 12
    for starts_at, ends_at in items:
        local = to_local(starts_at, NY)
        assert starts_at.tzinfo is UTC and ends_at.tzinfo is UTC
        assert local.weekday() == 2 and 15 <= local.day <= 21
        assert (local.hour, local.minute) == (10, 0)
        # EDT runs from 2027-03-14 to 2027-11-07: UTC-4 inside, UTC-5 outside.
        in_dst = dt.date(2027, 3, 14) <= local.date() < dt.date(2027, 11, 7)
        assert starts_at.hour == (14 if in_dst else 15)
        assert ends_at - starts_at == dt.timedelta(hours=2)
    assert local_dates(items)[:3] == [
        dt.date(2027, 1, 20),
        dt.date(2027, 2, 17),
        dt.date(2027, 3, 17),
    ]
    # The visits either side of each change: February/March and October/November.
    assert items[1][0] == dt.datetime(2027, 2, 17, 15, 0, tzinfo=UTC)
    assert items[2][0] == dt.datetime(2027, 3, 17, 14, 0, tzinfo=UTC)
    assert items[9][0] == dt.datetime(2027, 10, 20, 14, 0, tzinfo=UTC)
    assert items[10][0] == dt.datetime(2027, 11, 17, 15, 0, tzinfo=UTC)


def test_last_friday_is_the_final_friday_of_each_month():
    dates = local_dates(run("FREQ=MONTHLY;BYDAY=-1FR"))

    assert len(dates) == 12
    assert [d.month for d in dates] == list(range(1, 13))
    for d in dates:
        assert d.weekday() == 4
        assert (d + dt.timedelta(days=7)).month != d.month
    assert dates[0] == dt.date(2027, 1, 29) and dates[-1] == dt.date(2027, 12, 31)


def test_every_tuesday_for_a_year_has_52_two_hour_visits():
    items = run("FREQ=WEEKLY;BYDAY=TU", start_time=dt.time(9, 0), duration=120)

    tuesdays = sum(
        1 for n in range(365) if (dt.date(2027, 1, 1) + dt.timedelta(days=n)).weekday() == 1
    )
    assert tuesdays == 52
    assert len(items) == 52
    assert all(ends - starts == dt.timedelta(hours=2) for starts, ends in items)
    assert all(to_local(starts, NY).time() == dt.time(9, 0) for starts, _ in items)
    assert local_dates(items)[0] == dt.date(2027, 1, 5)


def test_day_31_only_occurs_in_months_with_31_days():
    rule = "FREQ=MONTHLY;BYMONTHDAY=31"
    dates = local_dates(run(rule))

    assert [d.month for d in dates] == [1, 3, 5, 7, 8, 10, 12]
    assert all(d.day == 31 for d in dates)
    text = describe(rule, start_time=dt.time(10, 0), duration_minutes=120)
    assert text.endswith("; months without a 31st are skipped")


def test_missing_spring_forward_time_moves_an_hour_later():
    items = run(
        "FREQ=WEEKLY;BYDAY=SU",
        start_time=dt.time(2, 30),
        duration=60,
        start=dt.date(2027, 3, 7),
        end=dt.date(2027, 3, 22),
    )

    starts = [s for s, _ in items]
    assert starts == [
        dt.datetime(2027, 3, 7, 7, 30, tzinfo=UTC),  # 02:30 EST
        dt.datetime(2027, 3, 14, 7, 30, tzinfo=UTC),  # 02:30 does not exist -> 03:30 EDT
        dt.datetime(2027, 3, 21, 6, 30, tzinfo=UTC),  # 02:30 EDT
    ]
    gap_day = to_local(starts[1], NY)
    assert (gap_day.date(), gap_day.time()) == (dt.date(2027, 3, 14), dt.time(3, 30))
    assert gap_day.utcoffset() == dt.timedelta(hours=-4)
    assert items[1][1] - items[1][0] == dt.timedelta(hours=1)


def test_repeated_fall_back_time_takes_the_first_edt_occurrence():
    items = run(
        "FREQ=WEEKLY;BYDAY=SU",
        start_time=dt.time(1, 30),
        duration=120,
        start=dt.date(2027, 11, 7),
        end=dt.date(2027, 11, 8),
    )

    assert len(items) == 1
    starts_at, ends_at = items[0]
    assert starts_at == dt.datetime(2027, 11, 7, 5, 30, tzinfo=UTC)  # 01:30 EDT, not EST
    assert to_local(starts_at, NY).utcoffset() == dt.timedelta(hours=-4)
    # Duration is elapsed time: two real hours after 01:30 EDT is 02:30 EST (wall clock +1h).
    assert ends_at == dt.datetime(2027, 11, 7, 7, 30, tzinfo=UTC)
    assert to_local(ends_at, NY).replace(tzinfo=None) == dt.datetime(2027, 11, 7, 2, 30)


def test_day_29_includes_leap_day_and_skips_february_otherwise():
    rule = "FREQ=MONTHLY;BYMONTHDAY=29"
    leap = run(rule, start=dt.date(2028, 2, 1), end=dt.date(2028, 3, 1))
    common = run(rule, start=dt.date(2027, 2, 1), end=dt.date(2027, 3, 1))

    assert local_dates(leap) == [dt.date(2028, 2, 29)]
    assert common == []
    text = describe(rule, start_time=dt.time(10, 0), duration_minutes=60)
    assert text == "Day 29 of every month at 10:00 for 1 hour; months without a 29th are skipped"


def test_range_is_half_open_including_start_and_excluding_end():
    rule = "FREQ=WEEKLY;BYDAY=TU"
    tuesday, next_tuesday = dt.date(2027, 1, 5), dt.date(2027, 1, 12)

    assert local_dates(run(rule, start=tuesday, end=next_tuesday)) == [tuesday]
    assert local_dates(run(rule, start=tuesday, end=next_tuesday + dt.timedelta(days=1))) == [
        tuesday,
        next_tuesday,
    ]
    assert run(rule, start=tuesday, end=tuesday) == []


def test_range_uses_the_local_date_not_the_utc_date():
    # 20:00 in New York is 01:00 UTC the next day; the local date decides membership.
    items = run(
        "FREQ=WEEKLY;BYDAY=TU",
        start_time=dt.time(20, 0),
        start=dt.date(2027, 1, 5),
        end=dt.date(2027, 1, 6),
    )
    assert [s for s, _ in items] == [dt.datetime(2027, 1, 6, 1, 0, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("tz", "winter_utc_hour", "summer_utc_hour"),
    [("Europe/London", 10, 9), ("America/Los_Angeles", 18, 17)],
)
def test_other_zones_keep_ten_oclock_local(tz, winter_utc_hour, summer_utc_hour):
    items = run("FREQ=MONTHLY;BYMONTHDAY=15", tz=tz)

    assert len(items) == 12
    assert all(to_local(s, tz).time() == dt.time(10, 0) for s, _ in items)
    assert items[0][0] == dt.datetime(2027, 1, 15, winter_utc_hour, tzinfo=UTC)
    assert items[6][0] == dt.datetime(2027, 7, 15, summer_utc_hour, tzinfo=UTC)


def test_biweekly_rule_is_anchored_at_the_range_start():
    dates = local_dates(
        run("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", start=dt.date(2027, 1, 4), end=dt.date(2027, 2, 1))
    )
    assert dates == [dt.date(2027, 1, 4), dt.date(2027, 1, 18)]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tz": "Mars/Olympus_Mons"}, "Unknown time zone"),
        ({"tz": ""}, "Unknown time zone"),
        ({"tz": "America"}, "Unknown time zone"),
        ({"duration": 0}, "duration"),
        ({"duration": -30}, "duration"),
        ({"start": dt.date(2027, 2, 1), "end": dt.date(2027, 1, 1)}, "end date"),
        ({"rule": "FREQ=HOURLY"}, "repeat"),
        ({"rule": "FREQ=DAILY;BYHOUR=9,15"}, "own times"),
        ({"rule": "DTSTART:20270101T090000\nRRULE:FREQ=WEEKLY"}, "single repeat rule"),
        ({"rule": "FREQ=WEEKLY;INTERVAL=0"}, "interval"),
        ({"rule": "not a rule"}, "could not be understood"),
        ({"rule": "FREQ=WEEKLY;BYDAY=XX"}, "could not be understood"),
    ],
)
def test_occurrences_rejects_bad_input(overrides, message):
    args = {"rule": "FREQ=WEEKLY;BYDAY=TU", **YEAR_2027, **overrides}
    with pytest.raises(RecurrenceError, match=message):
        run(args.pop("rule"), **args)


def test_a_rule_is_compiled_once_for_a_start_and_errors_are_raised_every_time():
    _compiled.cache_clear()
    first = run("FREQ=MONTHLY;BYDAY=+3WE")
    # The same rule and start: compiled once, the same dates each time, in any zone.
    assert run("FREQ=MONTHLY;BYDAY=+3WE") == first
    assert len(run("FREQ=MONTHLY;BYDAY=+3WE", tz="America/Los_Angeles")) == 12
    assert _compiled.cache_info().misses == 1 and _compiled.cache_info().hits == 2
    for _ in range(2):
        with pytest.raises(RecurrenceError, match="repeat"):
            run("FREQ=HOURLY")
    with pytest.raises(RecurrenceError, match="empty"):
        run(["FREQ=WEEKLY"])  # not text (nor a key of the cache)


ANCHORED_OR_NOT = [
    "FREQ=MONTHLY;BYDAY=+3WE",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=WEEKLY;BYDAY=TU",
    "FREQ=WEEKLY;BYDAY=MO,WE,FR",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=DAILY",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    # Anchored at the start: expanded from it whatever ``since`` is.
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
    "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15",
    "FREQ=WEEKLY",
    "FREQ=MONTHLY",
    "FREQ=YEARLY;BYMONTH=6",
    "FREQ=WEEKLY;COUNT=10;BYDAY=TH",
    "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYSETPOS=1",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
]


@settings(max_examples=300, deadline=None)
@given(
    rule=st.sampled_from(ANCHORED_OR_NOT),
    start=st.dates(dt.date(2024, 1, 1), dt.date(2027, 12, 31)),
    since_after=st.integers(-10, 400),
    start_time=st.sampled_from([dt.time(0, 30), dt.time(2, 30), dt.time(10), dt.time(23, 45)]),
    tz=st.sampled_from([NY, "America/Santiago", "Europe/London", "UTC"]),
)
def test_occurrences_since_a_day_are_those_of_the_whole_range_from_that_day(
    rule, start, since_after, start_time, tz
):
    end, since = start + dt.timedelta(days=366), start + dt.timedelta(days=since_after)
    window = {"start_time": start_time, "duration_minutes": 60, "tz": tz, "start": start}
    whole = occurrences(rule, end=end, **window)
    expected = [item for item in whole if _naive_local_date(item[0], start_time, tz) >= since]
    assert occurrences(rule, end=end, since=since, **window) == expected


def _naive_local_date(start_at, start_time, tz):
    """The local date an occurrence was expanded on (before a daylight-saving gap moved it)."""
    for day in (start_at.astimezone(ZoneInfo(tz)).date() - dt.timedelta(days=n) for n in (0, 1)):
        if local_to_utc(day, start_time, ZoneInfo(tz)) == start_at:
            return day
    raise AssertionError(start_at)


def test_occurrences_rejects_an_aware_start_time():
    with pytest.raises(RecurrenceError, match="local time"):
        run("FREQ=WEEKLY;BYDAY=TU", start_time=dt.time(10, 0, tzinfo=UTC))


# --- next_occurrences / validate_rule ----------------------------------------------------


def test_next_occurrences_gives_six_in_order_from_the_after_date():
    after = dt.date(2027, 3, 10)
    items = next_occurrences(
        "FREQ=MONTHLY;BYDAY=+3WE",
        start_time=dt.time(10, 0),
        duration_minutes=120,
        tz=NY,
        after=after,
    )

    assert local_dates(items) == [
        dt.date(2027, 3, 17),
        dt.date(2027, 4, 21),
        dt.date(2027, 5, 19),
        dt.date(2027, 6, 16),
        dt.date(2027, 7, 21),
        dt.date(2027, 8, 18),
    ]
    starts = [s for s, _ in items]
    assert starts == sorted(starts)


def test_next_occurrences_includes_the_after_date_and_honours_count():
    kwargs = {"start_time": dt.time(9, 0), "duration_minutes": 60, "tz": NY}
    items = next_occurrences("FREQ=WEEKLY;BYDAY=TU", after=dt.date(2027, 1, 5), count=2, **kwargs)

    assert local_dates(items) == [dt.date(2027, 1, 5), dt.date(2027, 1, 12)]
    assert (
        next_occurrences("FREQ=WEEKLY;BYDAY=TU", after=dt.date(2027, 1, 5), count=0, **kwargs) == []
    )
    with pytest.raises(RecurrenceError):
        next_occurrences("FREQ=WEEKLY;BYDAY=TU", after=dt.date(2027, 1, 5), count=-1, **kwargs)


def test_next_occurrences_stops_searching_after_five_years():
    # Anchored at `after`, this rule next fires six years later, beyond the search window.
    kwargs = {"start_time": dt.time(10, 0), "duration_minutes": 60, "tz": NY}
    rule = "FREQ=YEARLY;INTERVAL=6;BYMONTH=1;BYMONTHDAY=1"
    assert local_dates(next_occurrences(rule, after=dt.date(2027, 1, 1), **kwargs)) == [
        dt.date(2027, 1, 1)
    ]
    assert next_occurrences(rule, after=dt.date(2027, 1, 2), **kwargs) == []


def test_validate_rule_accepts_a_rule_with_a_date_in_the_year():
    kwargs = {"start_time": dt.time(10, 0), "duration_minutes": 60, "tz": NY}
    assert validate_rule("FREQ=MONTHLY;BYMONTHDAY=31", start=dt.date(2027, 2, 1), **kwargs) is None


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "no date in the year from 2027-01-01; "),
        ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29", "no date in the year from 2027-01-01; "),
        ("FREQ=SOMETIMES", "repeat"),
        ("", "empty"),
    ],
)
def test_validate_rule_rejects_impossible_or_unparsable_rules(rule, message):
    with pytest.raises(RecurrenceError, match=message):
        validate_rule(
            rule, start_time=dt.time(10, 0), duration_minutes=60, tz=NY, start=dt.date(2027, 1, 1)
        )


def test_validate_rule_checks_time_zone_and_duration():
    with pytest.raises(RecurrenceError, match="time zone"):
        validate_rule(
            "FREQ=WEEKLY;BYDAY=TU",
            start_time=dt.time(10, 0),
            duration_minutes=60,
            tz="Nowhere/Special",
            start=dt.date(2027, 1, 1),
        )


# --- to_local ----------------------------------------------------------------------------


def test_to_local_converts_utc_to_an_aware_local_datetime():
    local = to_local(dt.datetime(2027, 7, 1, 14, 0, tzinfo=UTC), NY)
    assert local.replace(tzinfo=None) == dt.datetime(2027, 7, 1, 10, 0)
    assert str(local.tzinfo) == NY
    with pytest.raises(RecurrenceError):
        to_local(dt.datetime(2027, 7, 1, 14, 0), NY)


# --- build_rrule / parse_rrule -----------------------------------------------------------

SHAPES = [
    (RuleParts("monthly", weekdays=("WE",), ordinal=3), "FREQ=MONTHLY;BYDAY=+3WE"),
    (RuleParts("monthly", weekdays=("FR",), ordinal=-1), "FREQ=MONTHLY;BYDAY=-1FR"),
    (
        RuleParts("monthly", interval=3, weekdays=("MO",), ordinal=1),
        "FREQ=MONTHLY;INTERVAL=3;BYDAY=+1MO",
    ),
    (RuleParts("weekly", weekdays=("TU", "TH")), "FREQ=WEEKLY;BYDAY=TU,TH"),
    (RuleParts("weekly", weekdays=("TU",)), "FREQ=WEEKLY;BYDAY=TU"),
    (RuleParts("monthly", interval=2, month_day=15), "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15"),
    (RuleParts("monthly", month_day=31), "FREQ=MONTHLY;BYMONTHDAY=31"),
    (RuleParts("weekly", interval=2, weekdays=("MO",)), "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
]


@pytest.mark.parametrize(("parts", "rule"), SHAPES)
def test_build_and_parse_round_trip(parts, rule):
    assert build_rrule(parts) == rule
    assert parse_rrule(rule) == parts
    assert build_rrule(parse_rrule(rule)) == rule


def test_build_orders_and_deduplicates_weekdays():
    parts = RuleParts("weekly", weekdays=("FR", "MO", "WE", "MO"))
    assert build_rrule(parts) == "FREQ=WEEKLY;BYDAY=MO,WE,FR"


def test_parse_accepts_rrule_prefix_lower_case_and_unsigned_ordinal():
    expected = RuleParts("monthly", weekdays=("WE",), ordinal=3)
    assert parse_rrule("RRULE:FREQ=MONTHLY;BYDAY=+3WE") == expected
    assert parse_rrule("  rrule:freq=monthly;byday=3we ") == expected
    assert parse_rrule("FREQ=MONTHLY;INTERVAL=1;BYDAY=+3WE") == expected


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (RuleParts("daily", weekdays=("MO",)), "weekly or monthly"),
        (RuleParts("weekly", interval=0, weekdays=("MO",)), "1 or more"),
        (RuleParts("weekly", interval=-2, weekdays=("MO",)), "1 or more"),
        (RuleParts("weekly"), "at least one day"),
        (RuleParts("weekly", weekdays=("MO",), ordinal=1), "weekly schedule cannot"),
        (RuleParts("weekly", weekdays=("XX",)), "Unknown day of the week"),
        (RuleParts("weekly", weekdays=("monday",)), "Unknown day of the week"),
        (RuleParts("monthly"), "day of the month or a weekday"),
        (RuleParts("monthly", weekdays=("WE",), ordinal=3, month_day=15), "not both"),
        (RuleParts("monthly", ordinal=3, month_day=15), "not both"),
        (RuleParts("monthly", weekdays=("WE",)), "first, second, third, fourth or last"),
        (RuleParts("monthly", weekdays=("WE",), ordinal=5), "first, second, third, fourth or last"),
        (
            RuleParts("monthly", weekdays=("WE",), ordinal=-2),
            "first, second, third, fourth or last",
        ),
        (RuleParts("monthly", weekdays=("WE", "FR"), ordinal=1), "exactly one weekday"),
        (RuleParts("monthly", ordinal=1), "exactly one weekday"),
        (RuleParts("monthly", month_day=0), "between 1 and 31"),
        (RuleParts("monthly", month_day=32), "between 1 and 31"),
    ],
)
def test_build_rejects_bad_parts_with_a_message(parts, message):
    with pytest.raises(RecurrenceError, match=message):
        build_rrule(parts)


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "FREQ=DAILY",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=MONTHLY;BYDAY=WE;BYSETPOS=3",
        "FREQ=WEEKLY;BYDAY=TU;COUNT=5",
        "FREQ=WEEKLY;BYDAY=TU;UNTIL=20271231T000000Z",
        "FREQ=WEEKLY;BYMONTH=2;BYDAY=TU",
        "FREQ=MONTHLY;BYDAY=WE",
        "FREQ=MONTHLY;BYDAY=+3WE,-1FR",
        "FREQ=MONTHLY;BYDAY=+5WE",
        "FREQ=MONTHLY;BYMONTHDAY=15,30",
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "FREQ=MONTHLY",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;BYDAY=1MO",
        "FREQ=WEEKLY;INTERVAL=x;BYDAY=MO",
        "FREQ=WEEKLY;INTERVAL=1_0;BYDAY=MO",
        "FREQ=WEEKLY;BYDAY=TU;BYDAY=TH",
        "BYDAY=TU",
        "FREQ=WEEKLY;;BYDAY=TU",
        "DTSTART:20270101T100000\nRRULE:FREQ=WEEKLY;BYDAY=TU",
        "just some words",
    ],
)
def test_parse_rejects_rules_the_form_cannot_edit(rule):
    with pytest.raises(RecurrenceError) as info:
        parse_rrule(rule)
    assert str(info.value)


# --- describe ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "start_time", "minutes", "expected"),
    [
        (
            "FREQ=MONTHLY;BYDAY=+3WE",
            dt.time(10, 0),
            120,
            "The third Wednesday of every month at 10:00 for 2 hours",
        ),
        (
            "FREQ=MONTHLY;BYDAY=-1FR",
            dt.time(14, 30),
            90,
            "The last Friday of every month at 14:30 for 1 hour 30 minutes",
        ),
        ("FREQ=WEEKLY;BYDAY=TU", dt.time(9, 0), 120, "Every Tuesday at 09:00 for 2 hours"),
        (
            "FREQ=WEEKLY;BYDAY=MO,TH",
            dt.time(8, 0),
            45,
            "Every Monday and Thursday at 08:00 for 45 minutes",
        ),
        (
            "FREQ=WEEKLY;BYDAY=MO,WE,FR",
            dt.time(8, 0),
            1,
            "Every Monday, Wednesday and Friday at 08:00 for 1 minute",
        ),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
            dt.time(9, 0),
            60,
            "Every 2 weeks on Monday at 09:00 for 1 hour",
        ),
        (
            "FREQ=MONTHLY;INTERVAL=3;BYDAY=+1MO",
            dt.time(7, 5),
            61,
            "Every 3 months on the first Monday at 07:05 for 1 hour 1 minute",
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=15",
            dt.time(10, 0),
            60,
            "Day 15 of every month at 10:00 for 1 hour",
        ),
        (
            "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15",
            dt.time(10, 0),
            60,
            "Every 2 months on day 15 at 10:00 for 1 hour",
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=31",
            dt.time(10, 0),
            120,
            "Day 31 of every month at 10:00 for 2 hours; months without a 31st are skipped",
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=30",
            dt.time(23, 59),
            600,
            "Day 30 of every month at 23:59 for 10 hours; months without a 30th are skipped",
        ),
    ],
)
def test_describe_in_plain_english(rule, start_time, minutes, expected):
    assert describe(rule, start_time=start_time, duration_minutes=minutes) == expected


def test_describe_rejects_unsupported_rules_and_bad_durations():
    with pytest.raises(RecurrenceError):
        describe("FREQ=DAILY", start_time=dt.time(9, 0), duration_minutes=60)
    with pytest.raises(RecurrenceError, match="duration"):
        describe("FREQ=WEEKLY;BYDAY=TU", start_time=dt.time(9, 0), duration_minutes=0)
