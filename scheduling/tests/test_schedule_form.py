"""The friendly schedule form, its fields template and the htmx preview of the next visits."""

import datetime as dt
import json
import re
from decimal import Decimal as D
from html import unescape

import pytest
import time_machine
from django.template.loader import render_to_string
from django.urls import reverse

from scheduling.forms import ScheduleForm
from scheduling.recurrence import RecurrenceError

NY = "America/New_York"
ANCHOR = dt.date(2027, 3, 1)  # two weeks before the spring-forward change of 2027-03-14
DEFAULTS = {
    "frequency": "monthly",
    "interval": "1",
    "monthly_mode": "weekday",
    "ordinal": "3",
    "weekday": "WE",
    "start_time": "10:00",
    "duration_hours": "2",
}


def data(**changes):
    """Form data as the browser posts it (prefix "schedule"); a value of None leaves it out."""
    fields = {**DEFAULTS, **changes}
    return {f"schedule-{name}": value for name, value in fields.items() if value is not None}


def weekly(*days, **changes):
    return data(frequency="weekly", weekdays=list(days), **changes)


def by_date(day, **changes):
    return data(monthly_mode="date", month_day=day, ordinal=None, weekday=None, **changes)


def bound(form_data, tz=NY, anchor=ANCHOR):
    return ScheduleForm(form_data, prefix="schedule", tz=tz, anchor=anchor)


def valid(form_data, **kwargs):
    form = bound(form_data, **kwargs)
    assert form.is_valid(), form.errors
    return form.cleaned_data


# --- building the rule ---------------------------------------------------------------------


def test_initial_values_give_the_third_wednesday_of_every_month_at_ten_for_two_hours():
    unbound = ScheduleForm(prefix="schedule", tz=NY, anchor=ANCHOR)
    initial = {
        f"schedule-{name}": unbound[name].value()
        for name in unbound.fields
        if unbound[name].value() is not None
    }

    cleaned = valid(initial)

    assert cleaned["rrule"] == "FREQ=MONTHLY;BYDAY=+3WE"
    assert cleaned["duration_minutes"] == 120
    assert cleaned["start_time"] == dt.time(10, 0)
    assert cleaned["schedule_text"] == "The third Wednesday of every month at 10:00 for 2 hours"


def test_weekly_on_tuesday_and_thursday_for_an_hour_and_a_half():
    cleaned = valid(weekly("TH", "TU", start_time="09:00", duration_hours="1.5"))

    assert cleaned["rrule"] == "FREQ=WEEKLY;BYDAY=TU,TH"
    assert cleaned["duration_minutes"] == 90
    assert cleaned["schedule_text"] == "Every Tuesday and Thursday at 09:00 for 1 hour 30 minutes"


def test_last_friday_of_every_month():
    cleaned = valid(data(ordinal="-1", weekday="FR"))

    assert cleaned["rrule"] == "FREQ=MONTHLY;BYDAY=-1FR"
    assert cleaned["schedule_text"] == "The last Friday of every month at 10:00 for 2 hours"


def test_day_31_says_that_shorter_months_are_skipped():
    cleaned = valid(by_date("31"))

    assert cleaned["rrule"] == "FREQ=MONTHLY;BYMONTHDAY=31"
    assert cleaned["schedule_text"] == (
        "Day 31 of every month at 10:00 for 2 hours; months without a 31st are skipped"
    )


def test_every_two_weeks_on_monday():
    cleaned = valid(weekly("MO", interval="2"))

    assert cleaned["rrule"] == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"
    assert cleaned["schedule_text"] == "Every 2 weeks on Monday at 10:00 for 2 hours"


def test_every_three_months_on_day_15():
    cleaned = valid(by_date("15", interval="3"))

    assert cleaned["rrule"] == "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15"
    assert cleaned["schedule_text"] == "Every 3 months on day 15 at 10:00 for 2 hours"


def test_hours_are_rounded_to_whole_minutes():
    assert valid(data(duration_hours="0.83"))["duration_minutes"] == 50


def test_fields_of_the_other_mode_do_not_block_a_valid_schedule():
    # The page disables the hidden inputs, but a stale value must still not get in the way.
    cleaned = valid(weekly("MO", month_day="99", ordinal="7", weekday="XX", monthly_mode="?"))

    assert cleaned["rrule"] == "FREQ=WEEKLY;BYDAY=MO"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form_data", "field", "message"),
    [
        (weekly(), "weekdays", "Pick at least one weekday."),
        (data(weekday=None), "weekday", "Pick the weekday."),
        (data(weekday=""), "weekday", "Pick the weekday."),
        (data(ordinal=None), "ordinal", "Pick first, second, third, fourth or last."),
        (data(ordinal="5"), "ordinal", "Pick first, second, third, fourth or last."),
        (data(monthly_mode=None), "monthly_mode", "Choose on a weekday or on a date."),
        (by_date(None), "month_day", "Enter the day of the month, from 1 to 31."),
        (by_date("0"), "month_day", "The day of the month must be between 1 and 31."),
        (by_date("32"), "month_day", "The day of the month must be between 1 and 31."),
        (by_date("x"), "month_day", "The day of the month must be between 1 and 31."),
        (data(duration_hours="0"), "duration_hours", "The visit must last at least 15 minutes"),
        (data(duration_hours="-2"), "duration_hours", "The visit must last at least 15 minutes"),
        (data(duration_hours="abc"), "duration_hours", "Enter the hours as a number"),
        (data(duration_hours=""), "duration_hours", "Enter how many hours the visit lasts"),
        (data(duration_hours="12.5"), "duration_hours", "A visit can last at most 12 hours."),
        (data(duration_hours="1.125"), "duration_hours", "Use at most two decimals"),
        (data(start_time="25:00"), "start_time", "Enter the start time as hours and minutes"),
        (data(start_time=""), "start_time", "Enter the start time"),
        (data(interval="0"), "interval", "It can repeat every 1 to 12 weeks or months."),
        (data(interval="13"), "interval", "It can repeat every 1 to 12 weeks or months."),
        (data(frequency="daily"), "frequency", "Choose how often the visit repeats"),
        (weekly("XX"), "weekdays", "Pick days of the week from the list."),
    ],
)
def test_bad_input_is_a_readable_field_error(form_data, field, message):
    form = bound(form_data)

    assert not form.is_valid()
    assert any(error.startswith(message) for error in form.errors[field]), form.errors
    assert "rrule" not in form.cleaned_data


def test_field_with_an_error_is_marked_invalid_for_bootstrap():
    form = bound(data(start_time="25:00"))
    form.is_valid()

    assert "is-invalid" in str(form["start_time"])
    assert "is-invalid" not in str(form["duration_hours"])


def test_schedule_without_a_date_in_the_coming_year_is_a_form_error():
    # Every 12 months from April lands on 30-day months and Februaries only: never a 31st.
    form = bound(by_date("31", interval="12"), anchor=dt.date(2027, 4, 1))

    assert not form.is_valid()
    assert "no date in the year from 2027-04-01" in form.non_field_errors()[0]


def test_unknown_time_zone_is_a_form_error():
    form = bound(data(), tz="Mars/Base")

    assert not form.is_valid()
    assert form.non_field_errors() == ["Unknown time zone: 'Mars/Base'."]


# --- editing a stored schedule ---------------------------------------------------------------


@pytest.mark.parametrize(
    "form_data",
    [
        data(),
        data(ordinal="-1", weekday="FR", duration_hours="0.83"),
        by_date("31", interval="2"),
        weekly("TU", "TH", start_time="09:00", duration_hours="1.5"),
        weekly("SU", interval="2", start_time="23:30", duration_hours="12"),
    ],
)
def test_initial_for_a_stored_schedule_validates_to_the_same_rule(form_data):
    first = valid(form_data)

    initial = ScheduleForm.initial_for(
        rrule=first["rrule"],
        start_time=first["start_time"],
        duration_minutes=first["duration_minutes"],
    )
    again = valid({f"schedule-{name}": value for name, value in initial.items()})

    assert again["rrule"] == first["rrule"]
    assert again["start_time"] == first["start_time"]
    assert again["duration_minutes"] == first["duration_minutes"]


def test_initial_for_gives_hours_as_people_write_them():
    initial = ScheduleForm.initial_for(
        rrule="FREQ=MONTHLY;BYMONTHDAY=15", start_time=dt.time(8, 30), duration_minutes=90
    )

    assert initial["frequency"] == "monthly"
    assert initial["monthly_mode"] == "date"
    assert initial["month_day"] == 15
    assert initial["duration_hours"] == D("1.5")
    assert str(initial["duration_hours"]) == "1.5"


@pytest.mark.parametrize(("minutes", "hours"), [(120, "2"), (600, "10"), (90, "1.5"), (50, "0.83")])
def test_initial_for_writes_hours_without_trailing_zeros(minutes, hours):
    initial = ScheduleForm.initial_for(
        rrule="FREQ=WEEKLY;BYDAY=MO", start_time=dt.time(9), duration_minutes=minutes
    )

    assert str(initial["duration_hours"]) == hours


def test_initial_for_rejects_a_rule_the_form_cannot_edit():
    with pytest.raises(RecurrenceError):
        ScheduleForm.initial_for(rrule="FREQ=DAILY", start_time=dt.time(10), duration_minutes=60)


# --- previewing occurrences -------------------------------------------------------------------


def test_preview_gives_local_times_that_stay_at_ten_across_daylight_saving():
    form = bound(weekly("WE"))
    form.is_valid()

    visits = form.occurrences_preview()

    assert [start.date() for start, _ in visits] == [
        dt.date(2027, 3, 3),
        dt.date(2027, 3, 10),
        dt.date(2027, 3, 17),
        dt.date(2027, 3, 24),
        dt.date(2027, 3, 31),
        dt.date(2027, 4, 7),
    ]
    assert {(start.time(), end.time()) for start, end in visits} == {(dt.time(10), dt.time(12))}
    assert [start.tzname() for start, _ in visits] == ["EST", "EST"] + ["EDT"] * 4


def test_preview_of_an_invalid_form_is_refused():
    form = bound(weekly())

    with pytest.raises(ValueError, match="not valid"):
        form.occurrences_preview()


# --- templates --------------------------------------------------------------------------------

LABELS = [
    "Repeat",
    "Every",
    "Which",
    "Weekday",
    "Day of month",
    "At",
    "For (hours)",
    "On a weekday",
    "On a date",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
]


def _label_targets(html):
    """label text -> the id it points at."""
    pairs = re.findall(r'<label[^>]*for="([^"]+)"[^>]*>([^<]+)<', html)
    return {text: for_id for for_id, text in pairs}


def test_fields_template_labels_every_input_and_asks_for_a_preview():
    form = ScheduleForm(prefix="schedule", tz=NY, anchor=ANCHOR)

    html = render_to_string(
        "scheduling/_schedule_fields.html",
        {"schedule_form": form, "schedule_tz": NY, "schedule_anchor": ANCHOR},
    )

    labels = _label_targets(html)
    for text in LABELS:
        assert f'id="{labels[text]}"' in html, text
    assert f'hx-get="{reverse("scheduling:schedule_preview")}"' in html
    hx_vals = re.search(r"hx-vals='([^']*)'", html).group(1)
    assert json.loads(unescape(hx_vals)) == {"tz": NY, "anchor": "2027-03-01"}
    assert 'id="schedule-preview" aria-live="polite"' in html
    assert "schedule-occurrence" not in html  # no preview before the first htmx request


def test_fields_template_shows_errors_in_place_and_the_preview_of_a_bound_form():
    form = bound(data(weekday=""))

    html = render_to_string("scheduling/_schedule_fields.html", {"schedule_form": form})

    assert re.search(r'<select[^>]*class="form-select is-invalid"[^>]*schedule-weekday', html)
    assert '<div class="invalid-feedback d-block w-100">Pick the weekday.</div>' in html
    assert '<ul class="text-danger mb-0">' in html  # the preview, with the same error


# --- the preview view -------------------------------------------------------------------------


def preview(client, form_data, tz=NY, anchor="2027-03-01"):
    params = {**form_data, "tz": tz, "anchor": anchor}
    return client.get(reverse("scheduling:schedule_preview"), params)


def occurrence_items(response):
    return re.findall(r'<li class="schedule-occurrence">([^<]*)</li>', response.content.decode())


def test_staff_sees_the_rule_in_words_and_six_visits_at_ten_local_time(client_for, staff):
    response = preview(client_for(staff), data())

    assert response.status_code == 200
    assert "<strong>The third Wednesday of every month at 10:00 for 2 hours</strong>" in (
        response.content.decode()
    )
    items = occurrence_items(response)
    assert len(items) == 6
    assert items[0] == "Wed Mar 17, 2027 · 10:00–12:00 EDT"
    assert all(item.endswith("· 10:00–12:00 EDT") for item in items), items


def test_preview_keeps_ten_oclock_through_the_spring_forward_change(client_for, staff):
    items = occurrence_items(preview(client_for(staff), weekly("WE")))

    assert items[1] == "Wed Mar 10, 2027 · 10:00–12:00 EST"
    assert items[2] == "Wed Mar 17, 2027 · 10:00–12:00 EDT"
    assert len(items) == 6


def test_preview_shows_times_in_the_customers_zone(client_for, staff):
    items = occurrence_items(preview(client_for(staff), data(), tz="America/Los_Angeles"))

    assert items[0] == "Wed Mar 17, 2027 · 10:00–12:00 PDT"


def test_preview_of_invalid_input_shows_the_errors(client_for, staff):
    response = preview(client_for(staff), data(weekday="", duration_hours="0"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="alert' in html
    assert "<li>Pick the weekday.</li>" in html
    assert "The visit must last at least 15 minutes" in html
    assert occurrence_items(response) == []


def test_preview_with_an_unknown_time_zone_says_so(client_for, staff):
    response = preview(client_for(staff), data(), tz="Mars/Base")

    assert response.status_code == 200
    assert "Unknown time zone: &#x27;Mars/Base&#x27;." in response.content.decode()


@time_machine.travel(dt.datetime(2027, 9, 1, 12, tzinfo=dt.UTC))
def test_preview_without_a_usable_anchor_starts_today(client_for, staff):
    items = occurrence_items(preview(client_for(staff), data(), anchor="not-a-date"))

    assert items[0] == "Wed Sep 15, 2027 · 10:00–12:00 EDT"
    assert items[2] == "Wed Nov 17, 2027 · 10:00–12:00 EST"


@pytest.mark.parametrize("anchor", ["9999-06-01", "9999-12-31", "1999-12-31"])
def test_preview_from_a_far_date_says_the_range(client_for, staff, anchor):
    response = preview(client_for(staff), data(), anchor=anchor)

    assert response.status_code == 200
    assert "Enter a date from 2000-01-01 to 2100-12-31." in response.content.decode()
    assert occurrence_items(response) == []


def test_preview_is_for_staff_only(client_for, alice):
    assert preview(client_for(alice), data()).status_code == 403


def test_anonymous_visitor_is_sent_to_sign_in(client_for, db):
    response = preview(client_for(None), data())

    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


def test_preview_only_answers_get(client_for, staff):
    response = client_for(staff).post(reverse("scheduling:schedule_preview"), data())

    assert response.status_code == 405
