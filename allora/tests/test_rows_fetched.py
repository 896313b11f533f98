"""No key page reads more rows than it shows (issue 14: at 10,000 agreements the dashboard built
110,000 objects, the calendar rendered every visit of the month, the filters loaded every
customer). With 200 agreements in the database, each page's SELECTs return at most a page of rows
plus a constant. Each SELECT is captured during the request and counted again afterwards as
``SELECT COUNT(*) FROM (<select>) sub``, which works alike on SQLite and PostgreSQL."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agreements import rules
from agreements.models import (
    Agreement,
    AgreementVersion,
    Contact,
    RateReview,
    ServiceLine,
    Term,
    TerminationRequest,
    TermsTemplate,
)
from agreements.tests.factories import CustomerFactory, ServiceLineFactory
from allora.models import ApiToken
from allora.tests.api_support import bearer
from billing.services import fill_monthly_amounts, rates_snapshot
from billing.tests.factories import make_invoice, published_card
from scheduling import calendars
from scheduling.models import Visit

NOW = dt.datetime(2027, 3, 15, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2027, 3, 15)
AGREEMENTS = 200
# The largest page is 50 rows (the visit list); a page's other reads (the rows of a prefetched
# relation of 25 agreements, a dozen reference rows) stay under 60.
MAX_ROWS = 60


@pytest.fixture
def two_hundred(customer_a, alice, admin, staff):
    """200 live agreements, half of them of customer A (alice's portal), with a signed version,
    a maintenance line, a term running today (about half ending within the renewal window),
    visits in February to April, a standing termination request, next term's rate review and
    an invoice each."""
    published_card(effective_date=dt.date(2026, 1, 1))
    snapshot = rates_snapshot(on=dt.date(2026, 6, 1))
    template = TermsTemplate.objects.filter(published_at__isnull=False).earliest("version")
    customers = [customer_a] * (AGREEMENTS // 2) + [
        CustomerFactory() for _ in range(AGREEMENTS - AGREEMENTS // 2)
    ]
    agreements = Agreement.objects.bulk_create(
        Agreement(customer=customer, number=f"CA-2026-{n:04d}", status=Agreement.Status.ACTIVE)
        for n, customer in enumerate(customers, 1)
    )
    Contact.objects.bulk_create(
        Contact(customer=customer, name=f"Contact {n}", email=f"c{n}@example.com")
        for n, customer in enumerate(customers[AGREEMENTS // 2 :])
    )
    versions = AgreementVersion.objects.bulk_create(
        AgreementVersion(
            agreement=agreement,
            number=1,
            status=AgreementVersion.Status.SIGNED,
            terms_template=template,
            rates_snapshot=snapshot,
            completed_at=NOW - dt.timedelta(days=300),
        )
        for agreement in agreements
    )
    # The factory's maintenance line (third Wednesday, 2 hours), built and stored in one go.
    lines = ServiceLine.objects.bulk_create(
        ServiceLineFactory.build(version=version) for version in versions
    )
    terms = []
    for n, version in enumerate(versions):
        start = TODAY - dt.timedelta(days=300 - n % 60)  # ends 65 to 124 days from today
        terms.append(
            Term(
                agreement=version.agreement,
                number=1,
                start=start,
                end=rules.term_end(start),
                locked_rates=snapshot,
                version=version,
            )
        )
    terms = Term.objects.bulk_create(terms)
    visits = []
    for n, (term, line) in enumerate(zip(terms, lines, strict=True)):
        for month in (2, 3, 4):
            starts = dt.datetime(2027, month, 1 + n % 28, 15, tzinfo=dt.UTC)
            visits.append(
                Visit(
                    agreement=term.agreement,
                    term=term,
                    line=line,
                    occurrence_start=starts,
                    starts_at=starts,
                    ends_at=starts + dt.timedelta(hours=2),
                    technician=staff,
                )
            )
    Visit.objects.bulk_create(visits)
    RateReview.objects.bulk_create(
        RateReview(
            agreement=agreement,
            term_number=2,
            method=RateReview.Method.KEEP,
            rates=snapshot,
            reviewed_by=admin,
        )
        for agreement in agreements
    )
    TerminationRequest.objects.bulk_create(
        TerminationRequest(
            agreement=term.agreement,
            received_at=NOW - dt.timedelta(days=5),
            channel=TerminationRequest.Channel.LETTER,
            reason="Moving",
            typed_name="Alice Moore",
            filed_by=admin,
            term_number=1,
            notice_deadline=term.notice_deadline,
            timely=True,
            effective_end=term.end,
        )
        for term in terms
    )
    for agreement in agreements:
        make_invoice(agreement, issued_on=dt.date(2027, 3, 1))
    fill_monthly_amounts()  # the daily job stores each term's monthly amount (the MRR series)
    return agreements


class SelectRows:
    """Every SELECT run while the context is open, counted again afterwards (its rows)."""

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        if not many and sql.lstrip().upper().startswith("SELECT") and "FOR UPDATE" not in sql:
            self.statements.append((sql, params))
        return execute(sql, params, many, context)

    def __enter__(self):
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)

    def largest(self):
        """(rows, sql) of the SELECT that returned the most rows."""
        found = (0, "")
        with connection.cursor() as cursor:
            for sql, params in self.statements:
                # The statement Django itself ran, with its own parameters.
                cursor.execute(f"SELECT COUNT(*) FROM ({sql}) sub", params)  # noqa: S608
                found = max(found, (cursor.fetchone()[0], sql))
        return found


# Each key page and who asks for it (the agreement pages show the first agreement).
PAGES = {
    "staff_home": "admin",
    "agreements:agreement_list": "admin",
    "agreements:agreement_detail": "admin",
    "agreements:customer_list": "admin",
    "scheduling:calendar": "admin",
    "scheduling:calendar?view=week": "admin",
    "scheduling:calendar?view=day": "admin",
    "scheduling:visit_list": "admin",
    "billing:invoice_list": "admin",
    "agreements:renewal_queue": "admin",
    "portal:home": "alice",
    "portal:agreement_list": "alice",
    "portal:agreement_detail": "alice",
    "portal:invoice_list": "alice",
    "portal:schedule": "alice",
}
# The calendars show more than a list page: a month up to 3 visits on each of its 42 days, a
# week 25 a day, a day 200 (then "+N more" or "narrow with a filter").
SHOWN = {
    "scheduling:calendar": 42 * calendars.MONTH_SHOWN,
    "scheduling:calendar?view=week": 7 * calendars.WEEK_SHOWN,
    "scheduling:calendar?view=day": calendars.DAY_SHOWN,
    "portal:schedule": 42 * calendars.MONTH_SHOWN,
}


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("name", PAGES)
def test_no_page_reads_more_rows_than_it_shows(two_hundred, client_for, admin, alice, name):
    view, _, query = name.partition("?")
    args = [two_hundred[0].pk] if view.endswith("agreement_detail") else []
    url = reverse(view, args=args) + (f"?{query}" if query else "")
    client = client_for({"admin": admin, "alice": alice}[PAGES[name]])
    with SelectRows() as selects:
        response = client.get(url)
    assert response.status_code == 200
    rows, sql = selects.largest()
    limit = max(MAX_ROWS, SHOWN.get(name, 0))
    assert rows <= limit, f"{url}: one SELECT returned {rows} rows: {sql[:300]}"


API_LISTS = [
    "/customers",
    "/contacts",
    "/agreements",
    "/termination-requests",
    "/rate-reviews",
    "/visits",
    "/rate-cards",
    "/invoices",
]


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("path", API_LISTS)
def test_no_api_list_reads_more_rows_than_a_page(two_hundred, admin, path):
    headers = bearer(admin)
    ApiToken.objects.filter(user=admin).update(last_used_at=timezone.now())
    with SelectRows() as selects:
        response = Client().get(f"/api/v1{path}", headers=headers)
    assert response.status_code == 200
    assert response.json()["items"]
    rows, sql = selects.largest()
    assert rows <= MAX_ROWS, f"{path}: one SELECT returned {rows} rows: {sql[:300]}"


@time_machine.travel(NOW, tick=False)
def test_long_lists_show_a_page_and_say_where_the_rest_is(two_hundred, client_for, admin, alice):
    in_window = Agreement.objects.filter(terms__end__lte=TODAY + dt.timedelta(days=90)).count()
    renewals = client_for(admin).get(reverse("agreements:renewal_queue"))
    assert len(renewals.context["rows"]) == 25 < in_window
    assert f"Page 1 of {-(-in_window // 25)}" in renewals.content.decode()

    client = client_for(alice)
    home = client.get(reverse("portal:home"))
    soonest = sorted(two_hundred[: AGREEMENTS // 2], key=lambda a: a.terms.get().end)[0]
    assert home.context["agreements"][0].agreement == soonest
    assert "All 100 agreements" in home.content.decode()
    listed = client.get(reverse("portal:agreement_list"), {"page": 4})
    assert len(listed.context["agreements"]) == 25
    assert "Page 4 of 4" in listed.content.decode()
