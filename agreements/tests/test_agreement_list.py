"""The staff agreement list's term columns: the latest term's start, last day and notice deadline,
read beside the agreement (its stored ``term_end`` and one subquery), not from its terms."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from agreements import rules
from agreements.models import Agreement, Term
from agreements.tests.factories import AgreementFactory
from scheduling.tests.factories import make_term

pytestmark = pytest.mark.django_db


def renewed(number):
    """An active agreement in its second term [2028-01-01, 2029-01-01)."""
    first = make_term(start=dt.date(2027, 1, 1))
    Agreement.objects.filter(pk=first.agreement_id).update(number=number)
    Term.objects.create(
        agreement_id=first.agreement_id,
        number=2,
        start=dt.date(2028, 1, 1),
        end=dt.date(2029, 1, 1),
        locked_rates={},
        version=first.version,
    )
    return first.agreement


def test_a_row_shows_the_latest_terms_dates_and_a_draft_none(client_for, staff):
    renewed("CA-LIST-0001")
    AgreementFactory(number="CA-LIST-0002")  # a draft: no term yet
    response = client_for(staff).get(reverse("agreements:agreement_list"), {"sort": "number"})
    rows = {agreement.number: agreement.listed_term for agreement in response.context["page"]}

    assert rows["CA-LIST-0002"] is None
    term = rows["CA-LIST-0001"]
    assert (term.start, term.end) == (dt.date(2028, 1, 1), dt.date(2029, 1, 1))
    assert term.last_day == rules.last_covered_day(dt.date(2029, 1, 1)) == dt.date(2028, 12, 31)
    assert term.notice_deadline == rules.notice_deadline(dt.date(2029, 1, 1))
    body = response.content.decode()
    assert "Jan 1, 2028 – Dec 31, 2028" in body
    assert f"{term.notice_deadline:%b} {term.notice_deadline.day}, 2028" in body


def test_the_export_has_the_same_dates(client_for, staff):
    renewed("CA-LIST-0001")
    response = client_for(staff).get(reverse("agreements:agreement_export"))
    text = b"".join(response.streaming_content).decode()
    (row,) = list(csv.reader(io.StringIO(text)))[1:]
    deadline = rules.notice_deadline(dt.date(2029, 1, 1))
    assert row[0] == "CA-LIST-0001"
    assert row[4:] == ["2028-01-01", "2028-12-31", deadline.isoformat()]


@pytest.mark.parametrize("count", [2, 12])
def test_the_list_reads_no_terms_whatever_the_rows(
    client_for, staff, count, django_assert_num_queries
):
    for n in range(count):
        renewed(f"CA-LIST-{n:04d}")
    client = client_for(staff)
    # the session with its user, count, the page of agreements with their customers and latest
    # term start
    with django_assert_num_queries(3):
        response = client.get(reverse("agreements:agreement_list"))
    assert len(response.context["page"]) == count
