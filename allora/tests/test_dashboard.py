"""The staff and portal dashboards: right numbers, and a constant number of queries."""

import datetime as dt
import re
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agreements.tests.factories import CustomerFactory, agreement_for_2027
from allora import dashboard, snapshots
from allora.models import FigureSnapshot
from allora.tests.factories import UserFactory
from billing.models import Invoice
from billing.tests.factories import make_invoice, published_card
from delivery import emergencies
from delivery.models import EmergencyRequest

NY = ZoneInfo("America/New_York")
TODAY = dt.date(2027, 3, 12)
NOW = dt.datetime(2027, 3, 12, 21, 0, tzinfo=dt.UTC)


def business(n, admin):
    """n customers, each with an active 2027 agreement, an emergency request (one met, the
    rest open) and an overdue invoice."""
    for index in range(n):
        customer = CustomerFactory(legal_name=f"Dashboard customer {index}")
        user = UserFactory(role="customer", customer=customer, email=f"user{index}@d.example")
        agreement = agreement_for_2027(customer=customer, customer_user=user, admin=admin)
        request = emergencies.file_request(
            customer,
            summary="Down",
            contact_name="Pat",
            contact_phone="555",
            site="Office",
            channel="portal",
            received_at=NOW - dt.timedelta(minutes=10 * (index + 1)),
            by=user,
            now=NOW,
        )
        if index == 0:
            emergencies.acknowledge(request, by=admin, now=NOW)
        make_invoice(agreement, issued_on=dt.date(2027, 1, 1), status=Invoice.Status.OVERDUE)


def count_queries(run):
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries)


def staff_dashboard():
    figures = snapshots.staff_figures(today=TODAY, now=NOW, tz=NY)
    return dashboard.staff_dashboard(today=TODAY, now=NOW, figures=figures)


@pytest.fixture
def card(db):
    return published_card()


def test_the_staff_dashboard_runs_a_constant_number_of_queries(card, admin, staff):
    business(1, admin)
    # The stored figures are computed on the first visit (allora/snapshots.py); until they are
    # REFRESH_EVERY old, each visit reads them in one query, whatever the data.
    computing = count_queries(staff_dashboard)
    small = count_queries(staff_dashboard)
    business(4, admin)
    assert count_queries(staff_dashboard) == small == 6
    # renewals 1, terminations 1, emergencies 1, overdue invoices 1, billing problems 1, and
    # the stored figures 1 (revenue, SLA, utilization, clashing visits; the worker's heartbeat).
    FigureSnapshot.objects.all().delete()
    assert count_queries(staff_dashboard) == computing
    # Computing them (new terms to price, as here): the row read (with the worker's heartbeat;
    # with no row yet, the heartbeat on its own), made (read, savepoint, insert, release), locked
    # in a transaction (a savepoint in the test's: 3 with its release), the figures (SLA 1;
    # revenue 5: whether any term is still to price, one chunk priced, the sums; utilization 3;
    # clashing visits 1), the row written; on top of the lists' 5.
    assert computing == 1 + 1 + 4 + 3 + (1 + 5 + 3 + 1) + 1 + 5


def test_the_staff_dashboard_numbers(card, admin, staff):
    business(3, admin)
    data = staff_dashboard()
    # Each agreement: maintenance 2 h × $112.50 + prescheduled 8 h × $112.50 + hosting $45.
    assert data["mrr"]["current"] == 3 * (D("225.00") + D("900.00") + D("45.00"))
    assert [row["amount"] for row in data["mrr"]["series"]][-3:] == [data["mrr"]["current"]] * 3
    assert data["mrr"]["series"][0]["amount"] == 0  # April 2026: before the first term
    open_rows = data["emergencies"]
    assert [row["request"].status for row in open_rows][:2] == ["open", "open"]
    assert open_rows[0]["left"] == "30 min left"
    march = data["sla"][-1]
    assert (march["met"], march["total"], march["rate"]) == (1, 1, 100.0)
    assert len(data["overdue"]["invoices"]) == 3
    assert [row["technician"] for row in data["utilization"]["rows"]] == [str(staff)]
    assert data["renewals"] == []


def test_renewals_show_the_notice_deadline(card, admin, staff):
    business(1, admin)
    on = dt.date(2027, 11, 1)
    figures = snapshots.staff_figures(today=on, now=NOW, tz=NY)
    data = dashboard.staff_dashboard(today=on, now=NOW, figures=figures)
    (row,) = data["renewals"]
    assert row["notice_deadline"] == dt.date(2027, 12, 1)


@time_machine.travel(NOW, tick=False)
def test_the_staff_home_renders_the_dashboard_with_the_vendored_chart_library(
    card, admin, staff, client_for
):
    business(2, admin)
    response = client_for(staff).get(reverse("staff_home"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "vendor/chartjs/chart.umd.min.js" in body
    # Every script is served from here (not "cdn" anywhere: a CSRF token may hold those letters).
    assert re.findall(r'<script[^>]* src="([^"]+)"', body)
    assert all(
        src.startswith("/static/") for src in re.findall(r'<script[^>]* src="([^"]+)"', body)
    )
    assert 'id="dashboard-data"' in body and "Monthly recurring revenue" in body


def test_the_portal_dashboard_runs_a_constant_number_of_queries(card, admin, customer_a, alice):
    agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)

    def run():
        return dashboard.portal_dashboard(alice, today=TODAY, now=NOW)

    small = count_queries(run)
    for _ in range(3):
        emergencies.file_request(
            customer_a,
            summary="Down",
            contact_name="Pat",
            contact_phone="555",
            site="Office",
            channel="portal",
            received_at=NOW,
            by=alice,
            now=NOW,
        )
    data = run()
    # Visits, requests, projects awaiting approval, invoices, agreements (with the end of the
    # term shown and how many there are), contacts.
    assert count_queries(run) == small == 6
    assert len(data["emergencies"]) == 3
    (row,) = data["agreements"]
    assert (row.last_day, row.notice_deadline) == (dt.date(2027, 12, 31), dt.date(2027, 12, 1))
    assert len(data["visits"]) == 5


@time_machine.travel(NOW, tick=False)
def test_the_portal_home_shows_term_end_notice_deadline_and_requests(
    card, admin, customer_a, alice, client_for, bob
):
    agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    emergencies.file_request(
        customer_a,
        summary="Printer on fire",
        contact_name="Pat",
        contact_phone="555",
        site="Office",
        channel="portal",
        received_at=NOW,
        by=alice,
        now=NOW,
    )
    body = client_for(alice).get(reverse("portal:home")).content.decode()
    assert "December 31, 2027" in body and "December 1, 2027" in body
    assert "Printer on fire" in body
    assert "Printer on fire" not in client_for(bob).get(reverse("portal:home")).content.decode()
    assert EmergencyRequest.objects.count() == 1


def test_utilization_sums_scheduled_hours_per_local_week_in_the_database(card, admin, staff):
    from scheduling.models import Visit

    business(2, admin)
    Visit.objects.update(technician=staff)
    late_sunday = dt.datetime(2027, 3, 7, 23, 30, tzinfo=NY)  # Monday 04:30 UTC
    visit = Visit.objects.filter(starts_at__date__gte=dt.date(2027, 3, 1)).earliest("starts_at")
    Visit.objects.filter(pk=visit.pk).update(
        starts_at=late_sunday, ends_at=late_sunday + dt.timedelta(minutes=90)
    )
    Visit.objects.exclude(pk=visit.pk).filter(starts_at__date=dt.date(2027, 3, 9)).update(
        status=Visit.Status.CANCELLED  # cancelled visits take nobody's time
    )
    expected: dict[dt.date, D] = {}
    for starts_at, ends_at in Visit.objects.active().values_list("starts_at", "ends_at"):
        week = dashboard._week(starts_at.astimezone(NY).date())
        expected[week] = expected.get(week, D(0)) + D((ends_at - starts_at).total_seconds()) / 3600
    (row,) = dashboard.utilization(today=TODAY, tz=NY)["rows"]
    assert {cell["week"]: cell["scheduled"] for cell in row["weeks"]} == {
        cell["week"]: round(expected.get(cell["week"], D(0)), 1) for cell in row["weeks"]
    }
    # The late Sunday visit counts in the week of March 1 (local), not the week of March 8.
    week_of_march_1 = next(c for c in row["weeks"] if c["week"] == dt.date(2027, 3, 1))
    assert week_of_march_1["scheduled"] == round(expected[dt.date(2027, 3, 1)], 1) > 0


@time_machine.travel(NOW, tick=False)
def test_the_staff_home_shows_each_weeks_scheduled_and_logged_hours(card, admin, staff, client_for):
    from scheduling.models import Visit

    business(1, admin)
    Visit.objects.update(technician=staff)
    body = client_for(staff).get(reverse("staff_home")).content.decode()
    table = body.split('id="dashboard-utilization"', 1)[1].split("</table>", 1)[0]
    (row,) = snapshots.staff_figures(today=TODAY, now=NOW, tz=NY)["utilization"]["rows"]
    # Each cell as {{ number }} prints a Decimal ("2.0 / 0.0"); some week has visits.
    cells = [f"<td>{c['scheduled']} / {c['logged']}</td>" for c in row["weeks"]]
    assert f"<td>{row['technician']}</td>{''.join(cells)}</tr>" in table
    assert any(c["scheduled"] > 0 for c in row["weeks"])
