"""Emergency requests: the guarantee, acknowledgment, alerts (each once), and bad input."""

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from agreements.models import ServiceKind, ServiceLine
from agreements.tests.factories import agreement_for_2027, response_tier
from billing.tests.factories import published_card
from delivery import emergencies
from delivery.models import EmergencyAlert, EmergencyRequest
from scheduling.models import Holiday

UTC = dt.UTC
RECEIVED = dt.datetime(2027, 3, 12, 21, 0, tzinfo=UTC)  # Friday 16:00 EST


@pytest.fixture
def agreement(customer_a, alice, admin, staff):
    published_card()
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def file(customer, by, *, received_at=RECEIVED, now=None, **fields):
    values = {
        "summary": "The server room is flooding",
        "contact_name": "Alice Moore",
        "contact_phone": "(919) 555-0101",
        "site": "100 Hillsborough Street, Raleigh",
        **fields,
    }
    return emergencies.file_request(
        customer,
        channel="portal",
        received_at=received_at,
        by=by,
        now=now or received_at,
        **values,
    )


def test_a_24x7_guarantee_gives_a_wall_clock_deadline(agreement, customer_a, alice):
    request = file(customer_a, alice)
    assert request.agreement == agreement
    assert request.tier_name == "1 hour, 24×7"
    assert request.due_at == RECEIVED + dt.timedelta(hours=1)
    assert request.alert_50_at == RECEIVED + dt.timedelta(minutes=30)
    assert request.alert_80_at == RECEIVED + dt.timedelta(minutes=48)
    assert request.outcome == EmergencyRequest.Outcome.PENDING


def test_a_business_hours_guarantee_skips_the_weekend_the_holiday_and_dst(
    agreement, customer_a, alice
):
    ServiceLine.objects.filter(version__agreement=agreement, kind=ServiceKind.EMERGENCY).update(
        response_tier=response_tier("4 business hours", 240, business_hours_only=True)
    )
    Holiday.objects.create(date=dt.date(2027, 3, 15), name="Company retreat")
    request = file(customer_a, alice)
    assert request.business_hours_only
    # 1 h on Friday, 3 h on Tuesday from 08:00 EDT (UTC−4 after the change): 11:00 EDT.
    assert request.due_at == dt.datetime(2027, 3, 16, 15, 0, tzinfo=UTC)


def test_a_customer_without_emergency_support_is_served_without_guarantee(customer_b, bob):
    request = file(customer_b, bob)
    assert request.outcome == EmergencyRequest.Outcome.NO_GUARANTEE
    assert request.due_at is None and request.agreement is None
    emergencies.acknowledge(request, by=bob, now=RECEIVED + dt.timedelta(hours=5))
    request.refresh_from_db()
    assert request.outcome == EmergencyRequest.Outcome.NO_GUARANTEE


def test_empty_fields_are_refused_with_a_message_for_each(customer_a, alice):
    with pytest.raises(ValidationError) as error:
        file(customer_a, alice, summary="  ", contact_phone="", site="")
    assert set(error.value.message_dict) == {"summary", "contact_phone", "site"}
    assert "Say what is wrong" in error.value.message_dict["summary"][0]
    assert not EmergencyRequest.objects.exists()


def test_a_received_time_in_the_future_is_refused(customer_a, alice):
    with pytest.raises(ValidationError, match="cannot be in the future"):
        file(customer_a, alice, now=RECEIVED - dt.timedelta(minutes=1))


def test_an_acknowledgment_exactly_at_the_deadline_is_met(agreement, customer_a, alice, staff):
    request = file(customer_a, alice)
    emergencies.acknowledge(request, by=staff, now=request.due_at)
    request.refresh_from_db()
    assert request.status == EmergencyRequest.Status.ACKNOWLEDGED
    assert request.outcome == EmergencyRequest.Outcome.MET
    assert request.acknowledged_by == staff


def test_an_acknowledgment_a_second_late_is_breached(agreement, customer_a, alice, staff):
    request = file(customer_a, alice)
    emergencies.acknowledge(request, by=staff, now=request.due_at + dt.timedelta(seconds=1))
    request.refresh_from_db()
    assert request.outcome == EmergencyRequest.Outcome.BREACHED


def test_a_closed_request_cannot_be_acknowledged(agreement, customer_a, alice, staff):
    request = file(customer_a, alice)
    now = RECEIVED + dt.timedelta(minutes=10)
    emergencies.acknowledge(request, by=staff, now=now)
    emergencies.close(request, by=staff, now=now, resolution="Pump installed.")
    with pytest.raises(ValidationError, match="already resolved"):
        emergencies.acknowledge(request, by=staff, now=now)
    with pytest.raises(ValidationError, match="already acknowledged|already resolved"):
        emergencies.close(request, by=staff, now=now, resolution="Again")


def test_closing_needs_an_acknowledgment_and_a_resolution(agreement, customer_a, alice, staff):
    request = file(customer_a, alice)
    with pytest.raises(ValidationError, match="Acknowledge the request first"):
        emergencies.close(request, by=staff, now=RECEIVED, resolution="Done")
    emergencies.acknowledge(request, by=staff, now=RECEIVED)
    with pytest.raises(ValidationError):
        emergencies.close(request, by=staff, now=RECEIVED, resolution=" ")


def test_open_requests_are_ordered_by_time_left(agreement, customer_a, customer_b, alice, bob):
    later = file(customer_a, alice)
    sooner = file(customer_a, alice, received_at=RECEIVED - dt.timedelta(minutes=30))
    unguaranteed = file(customer_b, bob, received_at=RECEIVED - dt.timedelta(hours=2))
    ordered = list(emergencies.by_time_left(EmergencyRequest.objects.all()))
    assert ordered == [sooner, later, unguaranteed]


# Alerts -------------------------------------------------------------------------------------


def test_alerts_go_out_at_50_80_and_breach_each_once(
    agreement, customer_a, alice, staff, django_capture_on_commit_callbacks
):
    request = file(customer_a, alice)
    mail.outbox.clear()

    def run(minutes):
        with django_capture_on_commit_callbacks(execute=True):
            return emergencies.alert_emergency_deadlines(
                now=RECEIVED + dt.timedelta(minutes=minutes)
            )

    assert run(29) == []
    assert [a.threshold for a in run(30)] == [50]
    assert run(31) == []  # the job runs again a minute later: nothing twice
    assert [a.threshold for a in run(48)] == [80]
    assert [a.threshold for a in run(60)] == [100]
    assert run(61) == []
    assert len(mail.outbox) == 3
    assert mail.outbox[0].to == [staff.email]
    assert "50% of the window used" in mail.outbox[0].subject
    assert mail.outbox[2].subject.startswith("BREACHED")
    request.refresh_from_db()
    assert request.outcome == EmergencyRequest.Outcome.BREACHED


def test_after_downtime_the_passed_thresholds_are_recorded_and_one_email_sent(
    agreement, customer_a, alice, staff, django_capture_on_commit_callbacks
):
    file(customer_a, alice)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        alerts = emergencies.alert_emergency_deadlines(now=RECEIVED + dt.timedelta(hours=3))
    assert [a.threshold for a in alerts] == [50, 80, 100]
    assert len(mail.outbox) == 1 and "BREACHED" in mail.outbox[0].subject


def test_an_acknowledged_request_is_not_alerted(agreement, customer_a, alice, staff):
    request = file(customer_a, alice)
    emergencies.acknowledge(request, by=staff, now=RECEIVED + dt.timedelta(minutes=5))
    assert emergencies.alert_emergency_deadlines(now=RECEIVED + dt.timedelta(hours=2)) == []


def test_an_alert_cannot_be_recorded_twice(agreement, customer_a, alice):
    from django.db import IntegrityError, transaction

    request = file(customer_a, alice)
    EmergencyAlert.objects.create(request=request, threshold=50, sent_at=RECEIVED)
    with pytest.raises(IntegrityError), transaction.atomic():
        EmergencyAlert.objects.create(request=request, threshold=50, sent_at=RECEIVED)


def test_the_command_twin_takes_now(agreement, customer_a, alice):
    file(customer_a, alice)
    out = StringIO()
    call_command("alert_emergency_deadlines", "--now", "2027-03-12T21:30:00+00:00", stdout=out)
    assert "1" in out.getvalue()
    assert EmergencyAlert.objects.filter(threshold=50).count() == 1
    call_command("alert_emergency_deadlines", "--now", "2027-03-12T21:30:00+00:00", stdout=out)
    assert EmergencyAlert.objects.count() == 1


def test_the_celery_task_runs_the_job(agreement, customer_a, alice):
    from delivery.tasks import alert_emergency_deadlines

    file(customer_a, alice)
    assert alert_emergency_deadlines("2027-03-12T22:00:00+00:00") == 3


def test_the_job_is_in_the_beat_schedule():
    from allora.celery import app

    entry = app.conf.beat_schedule["alert-emergency-deadlines"]
    assert entry["task"] == "delivery.tasks.alert_emergency_deadlines"


# Views --------------------------------------------------------------------------------------


@time_machine.travel(dt.datetime(2027, 3, 12, 21, 0, tzinfo=UTC), tick=False)
def test_a_customer_files_a_request_in_the_portal(agreement, client_for, alice):
    response = client_for(alice).post(
        reverse("portal:emergency_create"),
        {
            "summary": "Phones are dead",
            "contact_name": "Alice",
            "contact_phone": "555",
            "site": "Main office",
        },
    )
    request = EmergencyRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:emergency_detail", args=[request.pk])
    assert request.customer == agreement.customer and request.filed_by == alice
    page = client_for(alice).get(response["Location"])
    assert "Clock running" in page.content.decode()


def test_a_portal_request_with_empty_fields_shows_messages(client_for, alice):
    response = client_for(alice).post(reverse("portal:emergency_create"), {})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Say what is wrong" in body and "Say who we should call" in body
    assert not EmergencyRequest.objects.exists()


@time_machine.travel(dt.datetime(2027, 3, 12, 21, 30, tzinfo=UTC), tick=False)
def test_staff_enter_a_phone_request_with_its_received_time(agreement, client_for, staff):
    response = client_for(staff).post(
        reverse("delivery:emergency_create"),
        {
            "customer": agreement.customer_id,
            "received_at": "2027-03-12T16:10",  # New York time
            "summary": "Server down",
            "contact_name": "Alice",
            "contact_phone": "555",
            "site": "Main office",
        },
    )
    assert response.status_code == 302
    request = EmergencyRequest.objects.get()
    assert request.received_at == dt.datetime(2027, 3, 12, 21, 10, tzinfo=UTC)
    assert request.channel == EmergencyRequest.Channel.PHONE


@time_machine.travel(dt.datetime(2027, 3, 12, 21, 0, tzinfo=UTC), tick=False)
def test_staff_acknowledge_from_the_list_and_a_second_try_gets_a_message(
    agreement, customer_a, alice, client_for, staff
):
    request = file(customer_a, alice, received_at=dt.datetime.now(UTC))
    client = client_for(staff)
    listing = client.get(reverse("delivery:emergency_list")).content.decode()
    assert "min left" in listing
    url = reverse("delivery:emergency_acknowledge", args=[request.pk])
    assert client.post(url).status_code == 302
    again = client.post(url, follow=True)
    assert again.status_code == 200
    assert "already acknowledged" in again.content.decode()


def test_acknowledging_a_closed_request_in_the_browser_is_a_message_not_an_error(
    agreement, customer_a, alice, client_for, staff
):
    request = file(customer_a, alice, received_at=dt.datetime.now(UTC))
    now = dt.datetime.now(UTC)
    emergencies.acknowledge(request, by=staff, now=now)
    emergencies.close(request, by=staff, now=now, resolution="Fixed")
    response = client_for(staff).post(
        reverse("delivery:emergency_acknowledge", args=[request.pk]), follow=True
    )
    assert response.status_code == 200
    assert "already resolved" in response.content.decode()
