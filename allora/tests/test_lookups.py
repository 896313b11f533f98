"""``field__any``: the rows of ``field__in``, bound as one array on PostgreSQL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements.models import Agreement, Contact
from agreements.tests.factories import AgreementFactory, ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agreements():
    return [AgreementFactory(number=f"CA-ANY-{n}") for n in range(4)]


def ids_of(queryset):
    return sorted(queryset.values_list("pk", flat=True))


@pytest.mark.parametrize(
    "pick",
    [
        lambda rows: [rows[0].pk, rows[2].pk],
        lambda rows: [rows[1].pk, rows[1].pk, rows[3].pk],  # repeated
        lambda rows: {rows[0].pk, rows[3].pk},  # a set
        lambda rows: [rows[2].pk, None],  # None matches nothing, as with __in
        lambda rows: [],
        lambda rows: [None],
        lambda rows: [-1],  # no such row
    ],
)
def test_the_same_rows_as_in(agreements, pick):
    values = pick(agreements)
    assert ids_of(Agreement.objects.filter(pk__any=values)) == ids_of(
        Agreement.objects.filter(pk__in=values)
    )
    assert ids_of(Agreement.objects.exclude(pk__any=values)) == ids_of(
        Agreement.objects.exclude(pk__in=values)
    )


def test_on_a_foreign_key_a_joined_field_and_text(agreements):
    first, second = CustomerFactory(), CustomerFactory()
    mine = ContactFactory(customer=first)
    ContactFactory(customer=second)
    assert ids_of(Contact.objects.filter(customer_id__any=[first.pk])) == [mine.pk]
    assert ids_of(Contact.objects.filter(customer__legal_name__any=[first.legal_name])) == [mine.pk]
    numbers = [agreements[1].number, "CA-NONE"]
    assert ids_of(Agreement.objects.filter(number__any=numbers)) == [agreements[1].pk]


def test_a_subquery_stays_in(agreements):
    chosen = Agreement.objects.filter(number__in=["CA-ANY-0", "CA-ANY-3"]).values("pk")
    assert ids_of(Agreement.objects.filter(pk__any=chosen)) == [
        agreements[0].pk,
        agreements[3].pk,
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the array: PostgreSQL")
def test_on_postgresql_the_list_is_one_array(agreements):
    with CaptureQueriesContext(connection) as queries:
        found = ids_of(Agreement.objects.filter(pk__any=[a.pk for a in agreements]))
    assert found == sorted(a.pk for a in agreements)
    sql = queries.captured_queries[0]["sql"]
    assert '"agreements_agreement"."id" = ANY(' in sql
    assert "::bigint[]" in sql
