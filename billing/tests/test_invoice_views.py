"""Invoice pages: the staff list (filters, constant queries), the portal (scoped to the customer),
the PDF (text checked with pdftotext), the email with the PDF attached, and the CSV export."""

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
from billing.documents import send_invoice_email
from billing.models import Invoice
from billing.tests.factories import billing_contact, log_hours, make_invoice, published_card
from delivery.tests.factories import office_move

NOW = dt.datetime(2027, 3, 15, 15, tzinfo=dt.UTC)


@pytest.fixture
def agreement(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


@pytest.fixture
def invoices(agreement):
    """January to March 2027, $1,170.00 each."""
    return invoicing.issue_invoices(today=dt.date(2027, 3, 1))


@time_machine.travel(NOW)
def test_the_staff_list_uses_a_constant_number_of_queries(
    client_for, staff, agreement, alice, customer_b, bob, admin, django_assert_num_queries
):
    other = agreement_for_2027(customer=customer_b, customer_user=bob, admin=admin)
    client = client_for(staff)
    url = reverse("billing:invoice_list")
    invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    # the session with its user, count, the page of invoices with customer and agreement (the
    # customer filter is a search box: no list of customers)
    with django_assert_num_queries(3):
        assert len(client.get(url).context["page"]) == 2
    invoicing.issue_invoices(today=dt.date(2027, 3, 1))
    # Every kind of row: a one-off invoice, and a project's (its title shown).
    make_invoice(agreement, issued_on=dt.date(2027, 3, 2), kind=Invoice.Kind.ONE_OFF)
    project = office_move(agreement.customer, approver=alice, by=staff, today=dt.date(2027, 3, 1))
    make_invoice(
        agreement, issued_on=dt.date(2027, 3, 3), kind=Invoice.Kind.PROJECT, project=project
    )
    with django_assert_num_queries(3):
        response = client.get(url)
        body = response.content.decode()
    assert len(response.context["page"]) == 8
    assert other.number in body and "Project “Office move”" in body
    assert "$1,170.00" in body and "Invoice of March 2, 2027" in body


@time_machine.travel(NOW)
def test_the_staff_list_counts_no_further_than_its_cap(client_for, staff, agreement, monkeypatch):
    """Invoices grow every month: the list counts at most its cap ("Page 1 of 3+") and says how
    to see the rest, instead of counting every invoice."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing import views

    monkeypatch.setattr(views, "INVOICE_PAGE", 2)
    monkeypatch.setattr(views, "INVOICE_CAP", 6)
    for day in range(1, 10):
        make_invoice(agreement, issued_on=dt.date(2027, 2, day), kind=Invoice.Kind.ONE_OFF)
    client = client_for(staff)
    url = reverse("billing:invoice_list")
    with CaptureQueriesContext(connection) as queries:
        first = client.get(url).content.decode()
    count = next(q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"])
    assert "LIMIT 7" in count  # the cap and one more: no count of every invoice
    assert "Page 1 of 3+" in first and "The list stops here" not in first
    last = client.get(url, {"page": 3}).content.decode()
    assert "Page 3 of 3+" in last
    assert "The list stops here: narrow it with the filters" in last
    # Newest first: Feb 9-8, 7-6, 5-4; the three before are past the cap.
    assert "Feb 4, 2027" in last and "Feb 3, 2027" not in last
    # A filter narrows the list below the cap: an exact count again.
    narrowed = client.get(url, {"issued_from": "2027-02-06"}).content.decode()
    assert "Page 1 of 2<" in narrowed and "Page 1 of 2+" not in narrowed


def test_what_an_invoice_is_for(agreement, alice, staff):
    """The lists' "For" column: the project's title, else the agreement, else the kind."""
    monthly = make_invoice(agreement)
    assert monthly.regarding == agreement.number
    project = office_move(agreement.customer, approver=alice, by=staff, today=dt.date(2027, 3, 1))
    billed = make_invoice(agreement, kind=Invoice.Kind.PROJECT, project=project)
    assert billed.regarding == "Project “Office move”"
    one_off = make_invoice(agreement, kind=Invoice.Kind.ONE_OFF)
    Invoice.objects.filter(pk=one_off.pk).update(agreement=None)
    one_off.refresh_from_db()
    assert one_off.regarding == "One-off"


@time_machine.travel(NOW)
def test_a_row_of_the_staff_list(client_for, staff, agreement):
    invoice = make_invoice(agreement, issued_on=dt.date(2027, 3, 2), total=D("1234.50"))
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=D("1000.00"))
    body = client_for(staff).get(reverse("billing:invoice_list")).content.decode()
    detail = reverse("billing:invoice_detail", args=[invoice.pk])
    row = body[body.rindex("<tr>", 0, body.index(f'<a href="{detail}">')) :].split("</tr>")[0]
    cells = [cell.split(">", 1)[1].split("</td")[0] for cell in row.split("<td")[1:]]
    assert cells == [
        f'<a href="{detail}">{invoice.number}</a>',
        agreement.customer.legal_name,
        agreement.number,
        "March 2027",
        "Mar 2, 2027",
        "Apr 1, 2027",
        "$1,234.50",
        "$234.50",
        '<span class="badge text-bg-primary">Issued</span>',
    ]


@time_machine.travel(NOW)
def test_staff_filter_by_status_customer_number_and_dates(client_for, staff, invoices):
    invoicing.mark_overdue(today=dt.date(2027, 3, 15))  # January and February are overdue
    client = client_for(staff)
    url = reverse("billing:invoice_list")
    assert len(client.get(url, {"status": "overdue"}).context["page"]) == 2
    assert len(client.get(url, {"number": "000003"}).context["page"]) == 1
    assert len(client.get(url, {"issued_from": "2027-02-01"}).context["page"]) == 2
    customer = invoices[0].customer_id
    assert len(client.get(url, {"customer": customer}).context["page"]) == 3
    page = client.get(url, {"status": "overdue"}).content.decode()
    assert "Overdue" in page


@time_machine.travel(NOW)
@pytest.mark.parametrize(
    "query",
    [{"issued_from": "yesterday"}, {"customer": "x"}, {"status": "lost"}, {"page": "-3"}],
)
def test_bad_filters_show_the_list_never_a_500(client_for, staff, invoices, query):
    assert client_for(staff).get(reverse("billing:invoice_list"), query).status_code == 200


@time_machine.travel(NOW)
def test_the_portal_lists_only_the_customers_own_invoices_and_no_void_one(
    client_for, alice, bob, admin, customer_b, invoices
):
    theirs = agreement_for_2027(customer=customer_b, customer_user=bob, admin=admin)
    make_invoice(theirs, issued_on=dt.date(2027, 3, 1))
    invoices[-1].void(by=admin, reason="Wrong month", now=NOW)
    page = client_for(alice).get(reverse("portal:invoice_list"))
    assert [invoice.number for invoice in page.context["page"]] == ["INV-000002", "INV-000001"]
    assert theirs.number not in page.content.decode()
    (bobs,) = client_for(bob).get(reverse("portal:invoice_list")).context["page"]
    assert bobs.agreement == theirs


@time_machine.travel(NOW)
def test_another_customers_invoice_and_its_pdf_are_not_found(client_for, bob, invoices):
    client = client_for(bob)
    for name in ("portal:invoice_detail", "portal:invoice_pdf"):
        assert client.get(reverse(name, args=[invoices[0].pk])).status_code == 404


@time_machine.travel(NOW)
def test_the_portal_invoice_shows_list_price_discount_and_net(client_for, alice, invoices):
    invoicing.mark_overdue(today=dt.date(2027, 3, 15))
    page = client_for(alice).get(reverse("portal:invoice_detail", args=[invoices[0].pk]))
    text = page.content.decode()
    assert "Prescheduled Services, January 2027: block of 8 h on-site" in text
    assert "$1,200.00" in text and "25% off (−$300.00)" in text and "$900.00" in text
    assert "This invoice is overdue" in text


@time_machine.travel(NOW)
def test_the_pdf_has_the_lines_with_their_discount(client_for, alice, staff, invoices):
    response = client_for(alice).get(reverse("portal:invoice_pdf", args=[invoices[0].pk]))
    assert response["Content-Disposition"] == 'attachment; filename="INV-000001.pdf"'
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    for expected in ("Invoice INV-000001", "Oak City Dental", "January 31, 2027", "25% off"):
        assert expected in text
    assert "−$300.00" in text and "$1,170.00" in text
    staff_pdf = client_for(staff).get(reverse("billing:invoice_pdf", args=[invoices[0].pk]))
    assert staff_pdf.content.startswith(b"%PDF")


def test_the_invoice_is_emailed_after_commit_with_its_pdf(
    agreement, customer_a, django_capture_on_commit_callbacks
):
    billing_contact(customer_a, email="ap@oakcity.example")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        (invoice,) = invoicing.issue_invoices(today=dt.date(2027, 1, 1))
    assert mail.outbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    (message,) = mail.outbox
    assert message.to == ["ap@oakcity.example"]
    assert "INV-000001" in message.subject and "$1,170.00" in message.subject
    (attachment,) = message.attachments
    assert attachment[0] == "INV-000001.pdf" and attachment[2] == "application/pdf"
    assert attachment[1].startswith(b"%PDF")
    assert f"/portal/invoices/{invoice.pk}/" in message.body
    assert send_invoice_email(invoice.pk) is False  # once
    assert len(mail.outbox) == 1


@time_machine.travel(NOW)
def test_the_csv_export_has_one_row_per_line_in_the_accounting_columns(
    client_for, staff, agreement, invoices
):
    log_hours(agreement, "emergency", dt.date(2027, 2, 3), "1", by=staff)
    invoicing.issue_invoices(today=dt.date(2027, 4, 1))
    response = client_for(staff).get(
        reverse("billing:invoice_export"), {"start": "2027-02-01", "end": "2027-04-01"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "Invoice number",
        "Date",
        "Due date",
        "Customer",
        "Item",
        "Quantity",
        "Unit",
        "List rate",
        "List amount",
        "Discount %",
        "Discount",
        "Net amount",
        "Invoice list amount",
        "Invoice discount",
        "Invoice total",
    ]
    assert len(rows) == 1 + 3 + 3 + 4  # February, March, April (with the emergency hour)
    assert rows[1][:4] == ["INV-000002", "2027-02-01", "2027-03-03", "Oak City Dental, PLLC"]
    assert rows[2][4:] == [
        "Prescheduled Services, February 2027: block of 8 h on-site",
        "8.00",
        "hour",
        "150.00",
        "1200.00",
        "25.00",
        "300.00",
        "900.00",
        "1545.00",
        "375.00",
        "1170.00",
    ]
    assert sum(D(row[11]) for row in rows[1:]) == D("1170.00") * 3 + D("225.00")


@time_machine.travel(NOW)
def test_the_csv_export_neutralizes_formula_text_and_keeps_negative_amounts_numeric(
    client_for, staff, invoices
):
    """Issue 12: a text cell a spreadsheet would run gets a leading '; a credit of -12.50 is
    still a number to sum."""
    invoice = Invoice.objects.order_by("issued_on").first()
    Invoice.objects.filter(pk=invoice.pk).update(
        bill_to='=HYPERLINK("http://evil.example","Pay here")\n1 Main St'
    )
    line = invoice.lines.order_by("position").first()
    type(line).objects.filter(pk=line.pk).update(description="\t@SUM(A1:A9)", amount=D("-12.50"))
    response = client_for(staff).get(
        reverse("billing:invoice_export"), {"start": "2027-01-01", "end": "2027-01-31"}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    first = rows[1]
    assert first[3] == '\'=HYPERLINK("http://evil.example","Pay here")'
    assert first[4] == "'\t@SUM(A1:A9)"
    assert first[11] == "-12.50"


@time_machine.travel(NOW)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2027-03-01", "end": "2027-02-01"}, "The end date is before the start date."),
        ({"start": "March", "end": "2027-02-01"}, "Enter a date such as 2027-03-15."),
        ({"start": "2027-03-01"}, "This field is required."),
    ],
)
def test_a_bad_export_period_is_a_form_error(client_for, staff, query, message):
    response = client_for(staff).get(reverse("billing:invoice_export"), query)
    assert response.status_code == 200 and message in response.content.decode()


@time_machine.travel(NOW)
def test_staff_invoice_page_shows_payments_and_billed_time(client_for, staff, agreement):
    log_hours(agreement, "emergency", dt.date(2027, 1, 3), "1.25", by=staff)
    invoicing.issue_invoices(today=dt.date(2027, 2, 1))
    february = Invoice.objects.get(period=dt.date(2027, 2, 1))
    february.record_payment(
        amount=D("100"), received_on=dt.date(2027, 2, 5), method="check", by=staff, today=NOW.date()
    )
    page = client_for(staff).get(reverse("billing:invoice_detail", args=[february.pk]))
    text = page.content.decode()
    assert "Emergency Support, January 2027: 1.25 h" in text
    assert "1.25 h · Emergency Support" in text and "$100.00 · Check" in text


def test_admins_look_invoices_up_in_the_admin_site_without_changing_them(
    client_for, admin, staff, agreement, invoices
):
    entry = log_hours(agreement, "emergency", dt.date(2027, 3, 2), "1", by=staff, today=NOW.date())
    admin.is_superuser = True  # as admins made with createsuperuser are
    admin.save(update_fields=["is_superuser"])
    client = client_for(admin)
    for url in (
        reverse("admin:billing_invoice_changelist"),
        reverse("admin:billing_invoice_change", args=[invoices[0].pk]),
        reverse("admin:billing_timeentry_changelist"),
        reverse("admin:billing_timeentry_change", args=[entry.pk]),
    ):
        assert client.get(url).status_code == 200, url
    page = client.get(reverse("admin:billing_invoice_change", args=[invoices[0].pk]))
    assert b"Save" not in page.content  # view only
