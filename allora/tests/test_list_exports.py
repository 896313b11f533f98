"""The staff lists' CSV exports ("Export CSV", allora/spreadsheet.py ``csv_download``): the list
as filtered and sorted on the page (the same view code), streamed, with a header row, cells a
spreadsheet never runs as formulas, and a number of queries that does not grow with the rows."""

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
import time_machine
from django.urls import reverse

from agreements.models import Agreement
from agreements.tests.factories import AgreementFactory, CustomerFactory, agreement_for_2027
from billing.tests.factories import log_hours, make_invoice, published_card

NOW = dt.datetime(2027, 11, 15, 16, 0, tzinfo=dt.UTC)  # 11:00 in Raleigh


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_customers_export_is_the_filtered_sorted_list_with_formulas_escaped(client_for, staff):
    CustomerFactory(legal_name="Beta Bakery")
    CustomerFactory(legal_name='=HYPERLINK("http://evil.example","Alpha")')
    CustomerFactory(legal_name="Cedar Clinic", status="prospect")
    CustomerFactory(legal_name="@Alpha Audio")
    query = {"status": "active", "sort": "-name"}
    client = client_for(staff)
    rows = _csv(client.get(reverse("agreements:customer_export"), query))
    assert rows[0] == [
        "Customer", "Address", "Address (line 2)", "City", "State", "Postal code", "Phone",
        "Contacts", "Status",
    ]  # fmt: skip
    page = client.get(reverse("agreements:customer_list"), query).context["page"]
    assert [row[0].removeprefix("'") for row in rows[1:]] == [c.legal_name for c in page]
    assert [row[0] for row in rows[1:]] == [
        "Beta Bakery",
        "'@Alpha Audio",
        '\'=HYPERLINK("http://evil.example","Alpha")',
    ]
    assert rows[1][-2:] == ["0", "Active"]


@pytest.mark.parametrize("count", [5, 50])
def test_agreements_export_streams_in_constant_queries(
    client_for, staff, count, django_assert_max_num_queries
):
    customer = CustomerFactory(legal_name="Glenwood Partners")
    for n in range(count):
        AgreementFactory(customer=customer, number=f"CA-2030-{n:04d}")
    AgreementFactory(number="CA-2030-9999", status=Agreement.Status.ACTIVE)
    client = client_for(staff)
    # the session with its user, the customer's name (the ?customer= filter), the agreements
    # with their customers, their terms (one query per chunk of rows)
    with django_assert_max_num_queries(4):
        response = client.get(
            reverse("agreements:agreement_export"),
            {"customer": customer.pk, "status": "draft", "sort": "number"},
        )
        rows = _csv(response)
    assert rows[0][:3] == ["Agreement", "Customer", "Status"]
    assert [row[0] for row in rows[1:]] == [f"CA-2030-{n:04d}" for n in range(count)]
    assert {row[2] for row in rows[1:]} == {"Draft"}


def test_invoices_export_is_the_filtered_list_with_its_amounts(client_for, staff, customer_a):
    agreement = AgreementFactory(customer=customer_a, number="CA-2026-0001")
    make_invoice(agreement, issued_on=dt.date(2027, 1, 1))
    second = make_invoice(agreement, issued_on=dt.date(2027, 2, 1), total=D("-12.50"))
    make_invoice(AgreementFactory(), issued_on=dt.date(2027, 2, 1))
    client = client_for(staff)
    query = {"customer": customer_a.pk, "sort": "-issued"}
    rows = _csv(client.get(reverse("billing:invoice_list_export"), query))
    page = client.get(reverse("billing:invoice_list"), query).context["page"]
    assert rows[0] == [
        "Invoice", "Customer", "Agreement", "For", "Date", "Due", "Total", "Paid", "Credited",
        "Balance", "Status",
    ]  # fmt: skip
    assert [row[0] for row in rows[1:]] == [invoice.number for invoice in page]
    assert rows[1][:3] == [second.number, "Oak City Dental, PLLC", "CA-2026-0001"]
    # A negative amount stays a number (a spreadsheet sums it), not an escaped text.
    assert rows[1][4:7] == ["2027-02-01", "2027-03-03", "-12.50"]


def test_an_invoice_export_with_a_wrong_filter_goes_back_to_the_list_with_a_message(
    client_for, staff
):
    response = client_for(staff).get(
        reverse("billing:invoice_list_export"), {"issued_from": "1999-01-01"}, follow=True
    )
    assert response.redirect_chain[-1][0].endswith("?issued_from=1999-01-01")
    assert "Correct the filters before exporting." in response.content.decode()


@pytest.fixture
def live_agreement(customer_a, alice, admin):
    """Term 1 [2027-01-01, 2028-01-01): ends in 47 days on NOW, with its visits planned."""
    published_card(effective_date=dt.date(2026, 1, 1))
    return agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)


@time_machine.travel(NOW)
def test_renewals_export_lists_the_queue(client_for, admin, live_agreement):
    rows = _csv(client_for(admin).get(reverse("agreements:renewal_export")))
    assert rows[0][:4] == ["Agreement", "Customer", "Term last day", "Notice deadline"]
    number = live_agreement.number
    assert rows[1][:4] == [number, "Oak City Dental, PLLC", "2027-12-31", "2027-12-01"]
    assert rows[1][-3:] == ["Not reviewed (renews as is)", "", ""]


@time_machine.travel(NOW)
def test_visits_export_is_every_visit_from_the_day_in_order(client_for, staff, live_agreement):
    client = client_for(staff)
    query = {"from": "2027-12-01"}
    rows = _csv(client.get(reverse("scheduling:visit_export"), query))
    page = client.get(reverse("scheduling:visit_list"), query).context["page"]
    assert rows[0][:5] == ["Date", "Start", "End", "Time zone", "Customer"]
    assert len(rows) - 1 == page.paginator.count
    first = page.object_list[0]
    assert rows[1][:6] == [
        str(first.local_day), f"{first.local_start:%H:%M}", f"{first.local_end:%H:%M}",
        first.zone_abbr, "Oak City Dental, PLLC", live_agreement.number,
    ]  # fmt: skip
    dates = [row[0] for row in rows[1:]]
    assert dates == sorted(dates) and dates[0] >= "2027-12-01"
    backwards = _csv(client.get(reverse("scheduling:visit_export"), {**query, "sort": "-when"}))
    assert [row[0] for row in backwards[1:]] == dates[::-1]


@time_machine.travel(NOW)
def test_time_export_lists_the_entries_with_where_they_are_billed(
    client_for, staff, live_agreement
):
    log_hours(live_agreement, "prescheduled", dt.date(2027, 11, 2), "1.5", by=staff)
    log_hours(live_agreement, "emergency", dt.date(2027, 11, 9), "3", by=staff)
    client = client_for(staff)
    rows = _csv(client.get(reverse("billing:time_entry_export"), {"sort": "hours"}))
    assert rows[0][:5] == ["Date", "Customer", "Agreement", "Worked on", "Hours"]
    assert [(row[0], row[4], row[-1]) for row in rows[1:]] == [
        ("2027-11-02", "1.50", "next invoice"),
        ("2027-11-09", "3.00", "next invoice"),
    ]
    page = client.get(reverse("billing:time_entry_list"), {"sort": "-hours"}).context["page"]
    assert [entry.hours for entry in page] == [D("3"), D("1.5")]
