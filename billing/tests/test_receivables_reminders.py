"""Payment reminders: each step once per invoice under repeated runs, a catch-up after an outage,
none for a paid, void or credit invoice, the settings screen, the invoice's timeline, and daily
runs against any schedule of runs (hypothesis)."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from agreements.tests.factories import agreement_for_2027
from billing import receivables
from billing.models import Invoice, InvoiceEvent, ReminderStep
from billing.receivables import REMINDER_CATCH_UP_DAYS, send_payment_reminders
from billing.tests.factories import billing_contact, make_invoice, published_card
from billing.tests.receivables_data import credit_note, one_off, pay, reminder_steps

DUE = dt.date(2027, 3, 31)


def day(offset):
    return DUE + dt.timedelta(days=offset)


def sent_steps(invoice=None):
    events = InvoiceEvent.objects.filter(kind=InvoiceEvent.Kind.REMINDER)
    if invoice is not None:
        events = events.filter(invoice=invoice)
    return sorted(events.values_list("reminder_days", flat=True))


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run the job on a day, with the emails it queues after the commit sent (by the eager
    worker)."""

    def run_on(today):
        with django_capture_on_commit_callbacks(execute=True):
            return send_payment_reminders(today=today)

    return run_on


@pytest.fixture
def invoice(customer_a):
    billing_contact(customer_a, email="ap@oakcity.example")
    reminder_steps(-3, 0, 7, 14, 30)
    return one_off(customer_a, issued_on=day(-30), due_on=DUE, total="1170.00")


def test_the_default_steps_come_with_the_database(db):
    assert list(ReminderStep.objects.values_list("days", "active")) == [
        (-3, True),
        (0, True),
        (7, True),
        (14, True),
        (30, True),
    ]


def test_daily_runs_twice_a_day_send_each_step_once_with_its_wording(invoice, run):
    for offset in range(-10, 40):
        run(day(offset))
        run(day(offset))  # a second run the same day sends nothing more
    assert sent_steps(invoice) == [-3, 0, 7, 14, 30]
    assert len(mail.outbox) == 5
    before, on, *after = mail.outbox
    assert before.to == ["ap@oakcity.example"]
    assert before.subject == (
        f"Reminder: Allora invoice {invoice.number} ($1,170.00) is due on March 31, 2027"
    )
    assert "is due in 3 days, on March 31, 2027" in before.body
    assert on.subject == f"Allora invoice {invoice.number} ($1,170.00) is due today"
    assert after[0].subject.startswith(f"Overdue: Allora invoice {invoice.number}")
    assert "is now 7 days overdue" in after[0].body
    assert "is now 30 days overdue" in after[-1].body
    filename, content, mimetype = before.attachments[0]
    assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert reverse("portal:invoice_detail", args=[invoice.pk]) in before.body
    details = list(
        InvoiceEvent.objects.filter(invoice=invoice)
        .order_by("reminder_days")
        .values_list("detail", flat=True)
    )
    assert details[0] == "3 days before the due date: emailed to ap@oakcity.example"


def test_a_catch_up_after_five_days_down_sends_the_due_steps_once_in_one_email(invoice, run):
    run(day(-5))  # nothing due yet
    # Down from March 27 to April 1: the "3 days before" (March 28) and "on the day"
    # (March 31) steps are both due when the job runs again.
    assert run(day(1)) == [(invoice.pk, -3), (invoice.pk, 0)]
    assert sent_steps(invoice) == [-3, 0]
    (message,) = mail.outbox
    assert "was due on March 31, 2027 and is now 1 day overdue" in message.body
    assert run(day(1)) == []
    run(day(7))
    assert sent_steps(invoice) == [-3, 0, 7]
    assert len(mail.outbox) == 2


def test_an_outage_longer_than_the_catch_up_window_skips_the_old_steps(invoice, run):
    # First run 8 days after the "7 days after" step: -3, 0 and 7 are too old to send; the
    # "14 days after" step (yesterday) goes out.
    run(day(7 + REMINDER_CATCH_UP_DAYS + 1))
    assert sent_steps(invoice) == [14]
    assert len(mail.outbox) == 1
    run(day(30))
    assert sent_steps(invoice) == [14, 30]


def test_a_paid_invoice_gets_no_more_reminders(invoice, run, staff):
    run(day(0))
    assert sent_steps(invoice) == [-3, 0]  # both due (March 28 is within the window)
    pay(invoice, "1170.00", on=day(2), by=staff)
    for offset in range(1, 40):
        run(day(offset))
    assert sent_steps(invoice) == [-3, 0]
    assert len(mail.outbox) == 1


def test_a_partly_paid_invoice_is_reminded_of_what_is_left(invoice, run, staff):
    pay(invoice, "1000.00", on=day(-10), by=staff)
    run(day(7))
    assert sent_steps(invoice) == [0, 7]  # -3 (March 28) is 10 days old: past the window
    assert "($170.00)" in mail.outbox[0].subject


def test_credited_to_zero_void_and_credit_invoices_get_none(customer_a, staff, run):
    reminder_steps(-3, 0, 7)
    billing_contact(customer_a)
    credited = one_off(customer_a, issued_on=day(-30), due_on=DUE, total="100.00")
    credit_note(credited, "100.00", on=day(-20), by=staff)
    one_off(customer_a, issued_on=day(-30), due_on=DUE, status=Invoice.Status.VOID)
    one_off(customer_a, issued_on=day(-30), due_on=DUE, total="-45.00")  # an amendment's credit
    for offset in range(-5, 10):
        run(day(offset))
    assert sent_steps() == []
    assert mail.outbox == []


def test_no_reminder_before_the_invoice_date_and_inactive_steps_are_skipped(customer_a, run):
    reminder_steps(-3, 0, 7)
    ReminderStep.objects.filter(days=7).update(active=False)
    billing_contact(customer_a)
    late = one_off(customer_a, issued_on=day(-1), due_on=DUE)  # issued after "3 days before"
    for offset in range(-5, 20):
        run(day(offset))
    assert sent_steps(late) == [0]


def test_an_invoice_settled_between_the_claim_and_the_email_is_not_emailed(invoice, staff):
    claimed = send_payment_reminders(today=day(0))  # no commit callbacks run: queued only
    assert claimed == [(invoice.pk, -3), (invoice.pk, 0)]
    pay(invoice, "1170.00", on=day(0), by=staff)
    assert receivables.send_reminder_email(invoice.pk, [-3, 0], day(0)) is False
    assert mail.outbox == []
    assert set(InvoiceEvent.objects.values_list("detail", flat=True)) == {
        "Not sent: the invoice was settled first."
    }


def test_a_failed_email_releases_the_claims_for_the_next_run(invoice, run, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    run(day(0))  # the worker's task fails (and Celery logs it)
    assert sent_steps(invoice) == []
    monkeypatch.undo()
    run(day(1))
    assert sent_steps(invoice) == [-3, 0]
    assert len(mail.outbox) == 1


def test_the_command_and_the_beat_schedule(invoice, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    from allora.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "billing.tasks.send_payment_reminders" in tasks
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_payment_reminders", "--today", "2027-03-31")
    assert sent_steps(invoice) == [-3, 0]


# The invoice's timeline and the settings screen ------------------------------------------------


@time_machine.travel(dt.datetime(2027, 4, 1, 14, tzinfo=dt.UTC))
def test_the_staff_invoice_page_lists_the_reminders_sent(
    client_for, staff, customer_a, alice, admin, run
):
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    billing_contact(customer_a, email="ap@oakcity.example")
    reminder_steps(-3, 0, 7)
    invoice = make_invoice(agreement, issued_on=day(-30))
    assert invoice.due_on == DUE
    page = client_for(staff).get(reverse("billing:invoice_detail", args=[invoice.pk]))
    assert "Payment reminder" not in page.content.decode()
    run(day(1))
    page = client_for(staff).get(reverse("billing:invoice_detail", args=[invoice.pk]))
    text = page.content.decode()  # the reminders are in the invoice's timeline
    assert "<strong>Payment reminder</strong>" in text
    assert "On the due date: emailed to ap@oakcity.example" in text
    assert "3 days before the due date: emailed to ap@oakcity.example" in text


def test_admins_add_toggle_and_remove_steps_with_a_confirmation(client_for, admin):
    client = client_for(admin)
    url = reverse("billing:reminder_steps")
    reminder_steps(0)
    assert client.get(url).status_code == 200
    response = client.post(url, {"days": "21", "active": "on"})
    assert response.status_code == 302
    step = ReminderStep.objects.get(days=21)
    assert step.active
    # Bad input: a duplicate, out of range, not a number.
    for days, message in (
        ("21", "There is already a reminder on that day."),
        ("-61", "Ensure this value is greater than or equal to -60."),
        ("366", "Ensure this value is less than or equal to 365."),
        ("soon", "Enter a whole number."),
    ):
        response = client.post(url, {"days": days, "active": "on"})
        assert response.status_code == 200
        assert response.context["form"].errors["days"] == [message]
    client.post(reverse("billing:reminder_step_toggle", args=[step.pk]))
    assert not ReminderStep.objects.get(pk=step.pk).active
    delete = reverse("billing:reminder_step_delete", args=[step.pk])
    confirm = client.get(delete)
    assert "Remove the reminder “21 days after the due date”?" in confirm.content.decode()
    assert ReminderStep.objects.filter(pk=step.pk).exists()  # a GET asks, never deletes
    client.post(delete)
    assert not ReminderStep.objects.filter(pk=step.pk).exists()


def test_staff_cannot_change_the_steps(client_for, staff):
    reminder_steps(0)
    step = ReminderStep.objects.get()
    client = client_for(staff)
    assert client.post(reverse("billing:reminder_steps"), {"days": "5"}).status_code == 403
    assert client.post(reverse("billing:reminder_step_toggle", args=[step.pk])).status_code == 403
    assert client.post(reverse("billing:reminder_step_delete", args=[step.pk])).status_code == 403
    assert list(ReminderStep.objects.values_list("days", "active")) == [(0, True)]


# Any schedule of runs records what daily runs record --------------------------------------------


class Rollback(Exception):
    pass


STEPS = st.sets(st.sampled_from([-7, -3, -1, 0, 1, 7, 14, 30]), min_size=1, max_size=5)
INVOICES = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 45)),  # due date offset, Net days
    min_size=1,
    max_size=4,
)
# Gaps between runs: up to the catch-up window + 1 day, so no step is ever too old to send.
GAPS = st.lists(st.integers(1, REMINDER_CATCH_UP_DAYS + 1), min_size=1, max_size=20)


def _reminders(customer, steps, invoices, run_days):
    reminder_steps(*steps)
    made = [
        one_off(
            customer,
            issued_on=day(due) - dt.timedelta(days=net),
            due_on=day(due),
            total="100.00",
        )
        for due, net in invoices
    ]
    for today in run_days:
        send_payment_reminders(today=today)
    index = {invoice.pk: position for position, invoice in enumerate(made)}
    return {
        (index[invoice_id], days)
        for invoice_id, days in InvoiceEvent.objects.filter(
            kind=InvoiceEvent.Kind.REMINDER
        ).values_list("invoice_id", "reminder_days")
    }


@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS, invoices=INVOICES, gaps=GAPS)
def test_runs_with_gaps_record_the_same_reminders_as_daily_runs(customer_a, steps, invoices, gaps):
    start = day(-50)  # before any step of any invoice
    runs = [start]
    for gap in gaps:
        runs.append(runs[-1] + dt.timedelta(days=gap))
    end = runs[-1]
    daily = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    found = []
    for run_days in (daily, runs):
        try:
            with transaction.atomic():
                found.append(_reminders(customer_a, steps, invoices, run_days))
                raise Rollback
        except Rollback:
            pass
    assert found[0] == found[1]
    # …and each is the rule: the steps whose date has come, after the invoice date.
    expected = {
        (position, days)
        for position, (due, net) in enumerate(invoices)
        for days in steps
        if day(due) - dt.timedelta(days=net) < day(due + days) <= end
    }
    assert found[0] == expected
