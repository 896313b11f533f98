"""The pages of one-off invoices, credit notes, customer credit and resending: the staff forms
(bad input is a message, never a 500, and writes nothing), the PDFs (text checked), the emails,
the portal (a customer sees only its own), the CSV export, the invoice's timeline and its
constant number of queries."""

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from agreements.tests.factories import agreement_for_2027
from agreements.tests.test_document_pdf import pdf_text
from billing import invoicing
from billing.credits import credit_balance, issue_credit_note
from billing.models import CreditNote, Invoice, InvoiceEvent
from billing.oneoff import Item, issue_one_off_invoice
from billing.tests.factories import billing_contact, published_card
from billing.tests.test_credit_notes import one_off as two_lines

NOW = dt.datetime(2027, 3, 15, 15, tzinfo=dt.UTC)
TODAY = dt.date(2027, 3, 15)


@pytest.fixture
def agreement(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


def one_off_post(customer, *, agreement=None, lines=(("Firewall appliance", "2", "450.00"),)):
    data = {
        "customer": customer.pk,
        "customer_name": "",
        "agreement": agreement.pk if agreement else "",
        "agreement_name": "",
        "issued_on": TODAY.isoformat(),
        "terms_days": "15",
        "items-TOTAL_FORMS": str(len(lines) + 1),  # and one empty row, left out
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "1",
        "items-MAX_NUM_FORMS": "50",
    }
    for index, (description, quantity, price) in enumerate(lines):
        data |= {
            f"items-{index}-description": description,
            f"items-{index}-quantity": quantity,
            f"items-{index}-unit": "",
            f"items-{index}-unit_price": price,
        }
    return data


def one_off(customer, *, by, agreement=None, total=D("900.00"), on=TODAY):
    return issue_one_off_invoice(
        customer,
        agreement=agreement,
        lines=[Item("Firewall appliance", D("1"), total)],
        issued_on=on,
        terms_days=30,
        by=by,
        today=on,
    )


# One-off invoices -----------------------------------------------------------------------------


@time_machine.travel(NOW)
def test_staff_issue_a_one_off_invoice_with_and_without_an_agreement(
    client_for,
    staff,
    agreement,
    customer_a,
    customer_b,
    bob,
    alice,
    django_capture_on_commit_callbacks,
):
    billing_contact(customer_b, email="ap@triangle.example")
    (monthly,) = invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    client = client_for(staff)
    url = reverse("billing:one_off_create")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, one_off_post(customer_b))
    invoice = Invoice.objects.get(kind=Invoice.Kind.ONE_OFF)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse("billing:invoice_detail", args=[invoice.pk])
    assert (monthly.number, invoice.number) == ("INV-000001", "INV-000002")  # one numbering
    assert (invoice.agreement, invoice.customer, invoice.total, invoice.due_on) == (
        None,
        customer_b,
        D("900.00"),
        dt.date(2027, 3, 30),
    )
    (line,) = invoice.lines.all()
    assert (line.kind, line.unit, line.quantity, line.list_rate, line.amount) == (
        "item",
        "each",
        D("2"),
        D("450.00"),
        D("900.00"),
    )
    assert invoice.events.get(kind=InvoiceEvent.Kind.ISSUED).by == staff
    (message,) = mail.outbox  # queued after the commit, like a monthly invoice
    assert message.to == ["ap@triangle.example"] and "one-off invoice" in message.body
    page = client.get(response["Location"]).content.decode()
    assert "One-off invoice" in page and "Firewall appliance" in page
    assert "One-off" in client.get(reverse("billing:invoice_list")).content.decode()
    text = pdf_text(client.get(reverse("billing:invoice_pdf", args=[invoice.pk])).content)
    for expected in ("ONE-OFF INVOICE", "INV-000002", "Triangle Legal Group", "$900.00"):
        assert expected in text
    assert "Recurring charges" not in text
    # The portal: bob (customer B) sees it, alice (customer A) does not.
    assert invoice.number in client_for(bob).get(reverse("portal:invoice_list")).content.decode()
    assert client_for(bob).get(reverse("portal:invoice_pdf", args=[invoice.pk])).status_code == 200
    assert (
        invoice.number not in client_for(alice).get(reverse("portal:invoice_list")).content.decode()
    )
    assert (
        client_for(alice).get(reverse("portal:invoice_detail", args=[invoice.pk])).status_code
        == 404
    )
    # With one of the customer's agreements.
    response = client_for(staff).post(url, one_off_post(customer_a, agreement=agreement))
    assert Invoice.objects.get(number="INV-000003").agreement == agreement


@time_machine.travel(NOW)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"items-0-quantity": "0"}, "A quantity is more than 0."),
        ({"items-0-quantity": "10001"}, "A quantity is at most 10,000."),
        ({"items-0-unit_price": "1000000"}, "less than $1,000,000.00"),
        ({"items-0-unit_price": "-1"}, "A price cannot be negative."),
        ({"items-0-unit_price": "1.005"}, "at most two decimals"),
        ({"items-0-unit_price": "0"}, "The invoice total must be more than $0.00."),
        ({"items-0-description": ""}, "This field is required."),
        ({"terms_days": "121"}, "Payment terms are 0 to 120 days."),
        ({"issued_on": "2027-03-16"}, "cannot be in the future"),
        ({"issued_on": "2027-01-01"}, "at most 31 days in the past"),
        ({"issued_on": "3000-01-01"}, "Enter a date from 2000-01-01"),
        ({"customer": "999999"}, "cannot be chosen here"),
        ({"items-TOTAL_FORMS": "51"}, "at most 50"),
        (
            {"items-0-description": "", "items-0-quantity": "", "items-0-unit_price": ""},
            "at least 1",
        ),
    ],
)
def test_bad_one_off_input_is_a_message_and_writes_nothing(
    client_for, staff, customer_b, change, message
):
    response = client_for(staff).post(
        reverse("billing:one_off_create"), {**one_off_post(customer_b), **change}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Invoice.objects.exists()


@time_machine.travel(NOW)
def test_an_agreement_of_another_customer_is_refused(client_for, staff, agreement, customer_b):
    response = client_for(staff).post(
        reverse("billing:one_off_create"), one_off_post(customer_b, agreement=agreement)
    )
    assert f"{agreement.number} is not one of" in response.content.decode()
    assert not Invoice.objects.exists()


# Credit notes ---------------------------------------------------------------------------------


@time_machine.travel(NOW)
def test_an_admin_credits_some_lines_in_the_browser_and_the_customer_sees_it(
    client_for, admin, staff, alice, bob, customer_a, django_capture_on_commit_callbacks
):
    billing_contact(customer_a, email="ap@oakcity.example")
    invoice = two_lines(customer_a, by=staff, on=TODAY)  # 2 × $450.00, 1 × $125.50
    firewall, visit = invoice.lines.all()
    mail.outbox.clear()
    url = reverse("billing:credit_note_create", args=[invoice.pk])
    assert "Site visit (up to $125.50)" in client_for(admin).get(url).content.decode()
    too_much = {"scope": "lines", f"line_{firewall.pk}": "900.01", "reason": "Returned one"}
    response = client_for(admin).post(url, too_much)
    assert "At most what remains of this line ($900.00)." in response.content.decode()
    response = client_for(admin).post(url, {"scope": "lines", "reason": "Returned one"})
    assert "Enter the amount to credit on at least one line." in response.content.decode()
    assert not CreditNote.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            url, {"scope": "lines", f"line_{firewall.pk}": "450", "reason": "Returned one"}
        )
    note = CreditNote.objects.get()
    assert response["Location"] == reverse("billing:credit_note_detail", args=[note.pk])
    invoice.refresh_from_db()
    assert (note.total, invoice.balance) == (D("450.00"), D("575.50"))
    (message,) = mail.outbox
    assert message.to == ["ap@oakcity.example"] and "CN-000001" in message.subject
    assert message.attachments[0][0] == "CN-000001.pdf"
    text = pdf_text(message.attachments[0][1])
    for expected in ("Credit note CN-000001", invoice.number, "Returned one", "$450.00"):
        assert expected in text
    # The staff pages.
    page = client_for(staff).get(reverse("billing:invoice_detail", args=[invoice.pk]))
    assert "CN-000001" in page.content.decode() and "Credited" in page.content.decode()
    staff_pdf = client_for(staff).get(reverse("billing:credit_note_pdf", args=[note.pk]))
    assert staff_pdf.content.startswith(b"%PDF")
    text = pdf_text(
        client_for(staff).get(reverse("billing:invoice_pdf", args=[invoice.pk])).content
    )
    assert "Credit note CN-000001" in text and "$575.50" in text
    # The portal: alice sees the credit note and its PDF; bob gets a 404.
    portal = client_for(alice).get(reverse("portal:invoice_detail", args=[invoice.pk]))
    assert "CN-000001" in portal.content.decode() and "Returned one" in portal.content.decode()
    pdf_url = reverse("portal:credit_note_pdf", args=[note.pk])
    assert client_for(alice).get(pdf_url)["Content-Disposition"].endswith('"CN-000001.pdf"')
    assert client_for(bob).get(pdf_url).status_code == 404


@time_machine.travel(NOW)
def test_a_credit_note_on_a_paid_invoice_becomes_credit_shown_to_the_customer(
    client_for, admin, staff, alice, customer_a
):
    invoice = one_off(customer_a, by=staff)
    invoice.record_payment(amount=D("900"), received_on=TODAY, method="ach", by=staff, today=TODAY)
    url = reverse("billing:credit_note_create", args=[invoice.pk])
    client_for(admin).post(url, {"scope": "whole", "reason": "Cancelled order"})
    note = CreditNote.objects.get()
    assert (note.applied_to_invoice, note.to_customer_credit) == (D("0.00"), D("900.00"))
    assert credit_balance(customer_a) == D("900.00")
    assert "$900.00 of credit" in client_for(alice).get(reverse("portal:home")).content.decode()
    assert (
        "$900.00 of credit"
        in client_for(alice).get(reverse("portal:invoice_list")).content.decode()
    )
    customer_page = client_for(staff).get(
        reverse("agreements:customer_detail", args=[customer_a.pk])
    )
    assert "$900.00" in customer_page.content.decode()
    # Nothing remains to credit: the form says so.
    again = client_for(admin).post(url, {"scope": "whole", "reason": "Again"})
    assert "Nothing remains to be credited" in again.content.decode()
    assert CreditNote.objects.count() == 1


@time_machine.travel(NOW)
def test_credit_notes_appear_in_the_csv_export(client_for, admin, staff, customer_a):
    invoice = one_off(customer_a, by=staff)
    issue_credit_note(invoice, amount=D("100.00"), reason="Goodwill", by=admin, today=TODAY)
    response = client_for(staff).get(
        reverse("billing:invoice_export"), {"start": "2027-03-01", "end": "2027-03-31"}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row[0] for row in rows[1:]] == [invoice.number, "CN-000001"]
    assert rows[2][-1] == "-100.00" and "Goodwill" in rows[2][4]


# Customer credit, resending, the timeline -------------------------------------------------


@time_machine.travel(NOW)
def test_overpayment_in_the_browser_says_what_is_held_and_staff_apply_it(
    client_for, staff, customer_a
):
    first = one_off(customer_a, by=staff, total=D("100.00"))
    second = one_off(customer_a, by=staff, total=D("300.00"))
    response = client_for(staff).post(
        reverse("billing:payment_create", args=[first.pk]),
        {"amount": "250", "received_on": TODAY.isoformat(), "method": "check"},
        follow=True,
    )
    assert "$150.00 beyond the balance is held as the customer&#x27;s credit" in (
        response.content.decode()
    )
    page = client_for(staff).get(reverse("billing:invoice_detail", args=[second.pk]))
    assert "Apply credit ($150.00)" in page.content.decode()
    response = client_for(staff).post(
        reverse("billing:invoice_apply_credit", args=[second.pk]), follow=True
    )
    assert "$150.00 of the customer&#x27;s credit applied" in response.content.decode()
    second.refresh_from_db()
    assert second.balance == D("150.00") and credit_balance(customer_a) == 0


@time_machine.travel(NOW)
def test_resend_emails_the_invoice_again_and_records_it(
    client_for, staff, agreement, customer_a, django_capture_on_commit_callbacks
):
    billing_contact(customer_a, email="ap@oakcity.example")
    with django_capture_on_commit_callbacks(execute=True):
        (invoice,) = invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    assert invoice.events.get(kind=InvoiceEvent.Kind.EMAILED).detail == "ap@oakcity.example"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(staff).post(
            reverse("billing:invoice_resend", args=[invoice.pk]), follow=True
        )
    assert "is being emailed again" in response.content.decode()
    (message,) = mail.outbox
    assert (
        message.to == ["ap@oakcity.example"]
        and message.attachments[0][0] == invoice.number + ".pdf"
    )
    event = invoice.events.get(kind=InvoiceEvent.Kind.RESENT)
    assert (event.by, event.detail) == (staff, "ap@oakcity.example")
    timeline = client_for(staff).get(reverse("billing:invoice_detail", args=[invoice.pk]))
    labels = [moment.label for moment in timeline.context["timeline"]]
    assert labels == ["Issued", "Emailed", "Resent"]


@time_machine.travel(NOW)
def test_a_void_invoice_is_not_resent(client_for, staff, admin, customer_a):
    billing_contact(customer_a)
    invoice = one_off(customer_a, by=staff)
    invoice.void(by=admin, reason="Wrong customer", now=NOW)
    mail.outbox.clear()
    response = client_for(staff).post(
        reverse("billing:invoice_resend", args=[invoice.pk]), follow=True
    )
    assert "it is not sent again" in response.content.decode()
    assert mail.outbox == []


@time_machine.travel(NOW)
def test_the_invoice_page_reads_a_constant_number_of_queries(
    client_for, staff, admin, customer_a, django_assert_num_queries
):
    invoice = one_off(customer_a, by=staff, total=D("1000.00"))
    url = reverse("billing:invoice_detail", args=[invoice.pk])
    client = client_for(staff)
    # the session with its user, the invoice with customer and agreement, lines, payments with
    # who recorded them, credit notes with who issued them, the events with who did them, the
    # customer's credit, the time billed
    with django_assert_num_queries(8):
        client.get(url)
    for amount in ("100", "200", "300"):
        invoice.record_payment(
            amount=D(amount), received_on=TODAY, method="ach", by=staff, today=TODAY
        )
        issue_credit_note(invoice, amount=D("50"), reason="Goodwill", by=admin, today=TODAY)
    with django_assert_num_queries(8):
        response = client.get(url)
    assert len(response.context["timeline"]) == 1 + 3 + 3  # issued, payments, credit notes
