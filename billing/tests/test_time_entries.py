"""Time entries: technicians log hours against a visit, the prescheduled block or Emergency
Support; the wrong ones get a plain message, never a 500."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from agreements.models import Agreement
from agreements.tests.factories import agreement_for_2027
from billing.models import TimeEntry
from billing.tests.factories import line_of, published_card
from billing.timesheets import log_time
from scheduling.models import Visit

NOW = dt.datetime(2027, 3, 10, 15, tzinfo=dt.UTC)
TODAY = dt.date(2027, 3, 10)


@pytest.fixture
def agreement(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def past_visit(agreement, kind="prescheduled"):
    return (
        Visit.objects.filter(agreement=agreement, line__kind=kind, starts_at__lt=NOW)
        .order_by("-starts_at")
        .first()
    )


def cancelled(visit):
    return visit.cancel(now=NOW, reason="Office closed")


def log(agreement, staff, **kwargs):
    fields = {"work_date": dt.date(2027, 3, 2), "hours": D("2"), "technician": staff}
    return log_time(agreement, **{**fields, **kwargs}, by=staff, today=TODAY)


def test_hours_on_a_prescheduled_visit_count_against_the_block(agreement, staff):
    visit = past_visit(agreement)
    entry = log(agreement, staff, visit=visit)
    assert (entry.line, entry.visit, entry.invoice) == (visit.line, visit, None)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (D("-2"), "Hours must be more than zero"),
        (D("0"), "Hours must be more than zero"),
        (D("25"), "A day has 24 hours at most"),
        (None, "Enter the hours worked"),
    ],
)
def test_impossible_hours_are_refused(agreement, staff, hours, message):
    with pytest.raises(ValidationError, match=message):
        log(agreement, staff, line=line_of(agreement, "emergency"), hours=hours)


def test_a_cancelled_visit_takes_no_time(agreement, staff):
    visit = cancelled(past_visit(agreement))
    with pytest.raises(ValidationError, match="This visit was cancelled"):
        log(agreement, staff, visit=visit)


@pytest.mark.parametrize(
    ("work_date", "message"),
    [
        (dt.date(2027, 3, 11), "future date"),
        (dt.date(2026, 12, 31), "outside the agreement's terms"),
    ],
)
def test_time_outside_the_agreement_or_in_the_future_is_refused(
    agreement, staff, work_date, message
):
    with pytest.raises(ValidationError, match=message):
        log(agreement, staff, line=line_of(agreement, "emergency"), work_date=work_date)


def test_maintenance_time_goes_on_its_visit_and_hosting_takes_none(agreement, staff):
    with pytest.raises(ValidationError, match="logged against one of its visits"):
        log(agreement, staff, line=line_of(agreement, "maintenance"))
    with pytest.raises(ValidationError, match="logged against one of its visits"):
        log(agreement, staff, line=line_of(agreement, "hosting"))
    assert log(agreement, staff, visit=past_visit(agreement, "maintenance")).hours == D("2")


def test_no_time_on_an_agreement_that_has_ended(agreement, staff):
    agreement.set_status(Agreement.Status.TERMINATED)
    with pytest.raises(ValidationError, match="only on an active agreement"):
        log(agreement, staff, line=line_of(agreement, "emergency"))


def test_a_visit_of_another_agreement_is_refused(agreement, staff, customer_a, alice, admin):
    other = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    with pytest.raises(ValidationError, match="belongs to another agreement"):
        log(agreement, staff, visit=past_visit(other))


@time_machine.travel(NOW)
def test_staff_log_emergency_hours_in_the_browser(agreement, staff, client_for):
    client = client_for(staff)
    picker = client.get(reverse("billing:time_entry_create")).content.decode()
    assert 'name="agreement_name"' in picker  # a search box, not a dropdown of every agreement
    options = client.get(reverse("agreements:agreement_options"), {"agreement_name": "oak city"})
    assert f'value="{agreement}" data-id="{agreement.pk}"' in options.content.decode()
    url = reverse("billing:time_entry_create")
    form = client.get(url, {"agreement": agreement.pk})
    assert "Emergency Support" in form.content.decode()
    response = client.post(
        url,
        {
            "agreement": agreement.pk,
            "work": f"line:{line_of(agreement, 'emergency').pk}",
            "work_date": "2027-03-09",
            "hours": "1.5",
            "technician": staff.pk,
            "note": "Server down",
        },
        follow=True,
    )
    assert "1.5 h logged for Oak City Dental" in response.content.decode()
    entry = TimeEntry.objects.get()
    assert (entry.hours, entry.note, entry.created_by) == (D("1.50"), "Server down", staff)


@time_machine.travel(NOW)
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"hours": "-1"}, "Hours must be more than zero"),
        ({"hours": "lots"}, "Enter the hours as a number"),
        ({"hours": "1.555"}, "at most two decimals"),
        ({"work_date": "tomorrow"}, "Enter a date such as"),
        ({"work": "visit:999999"}, "Choose a visit or a service of this agreement."),
        ({"work": "nonsense"}, "Choose a visit or a service of this agreement."),
    ],
)
def test_bad_time_input_shows_a_message_never_a_500(agreement, staff, client_for, fields, message):
    data = {
        "agreement": agreement.pk,
        "work": f"line:{line_of(agreement, 'emergency').pk}",
        "work_date": "2027-03-09",
        "hours": "1",
        "technician": staff.pk,
        **fields,
    }
    response = client_for(staff).post(reverse("billing:time_entry_create"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TimeEntry.objects.exists()


@time_machine.travel(NOW)
def test_time_on_a_cancelled_visit_says_so_in_the_browser(agreement, staff, client_for):
    visit = cancelled(past_visit(agreement))
    client = client_for(staff)
    page = client.get(reverse("billing:time_entry_create"), {"visit": visit.pk})
    assert "(cancelled)" in page.content.decode()
    response = client.post(
        reverse("billing:time_entry_create"),
        {
            "agreement": agreement.pk,
            "work": f"visit:{visit.pk}",
            "work_date": "2027-03-09",
            "hours": "2",
            "technician": staff.pk,
        },
    )
    assert "This visit was cancelled" in response.content.decode()


@time_machine.travel(NOW)
@pytest.mark.parametrize("query", [{"agreement": "abc"}, {"agreement": "999"}, {"visit": "999"}])
def test_a_bad_agreement_or_visit_in_the_address_asks_for_the_agreement(staff, client_for, query):
    response = client_for(staff).get(reverse("billing:time_entry_create"), query)
    assert response.status_code == 200 and "Choose an agreement" in response.content.decode()
