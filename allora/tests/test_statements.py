"""Reads compiled once (allora/statements.py): whatever the values, a `Read` gives what its
queryset gives (instances with their related rows and annotations, tuples, counts), in one
query, built and compiled once; a read whose SQL would not be the same for other values is
refused before it runs."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.db.models import Count, F, Q, Window
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements.models import Agreement, Contact, Customer, Term
from agreements.tests.factories import (
    AgreementFactory,
    ContactFactory,
    CustomerFactory,
    VersionFactory,
)
from allora.models import Role, User
from allora.statements import CountRead, Read, attach, counted, customer_user

pytestmark = pytest.mark.django_db

BASE = dt.date(2027, 1, 1)
NOON = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def agreements(db):
    """Nine agreements of three customers: latest terms ending a week apart (one
    without a term), created an hour apart, in three statuses."""
    customers = [CustomerFactory(legal_name=f"Customer {n}") for n in range(3)]
    statuses = [Agreement.Status.ACTIVE, Agreement.Status.DRAFT, Agreement.Status.ENDED]
    made = []
    for n in range(9):
        agreement = AgreementFactory(customer=customers[n % 3], number=f"CA-2027-{n:04d}")
        if n != 4:  # the stored latest term end follows the terms (database triggers)
            end = BASE + dt.timedelta(weeks=n)
            version = VersionFactory(agreement=agreement)
            Term.objects.create(
                agreement=agreement,
                number=1,
                start=end - dt.timedelta(days=365),
                end=end,
                locked_rates={},
                version=version,
            )
        Agreement.objects.filter(pk=agreement.pk).update(
            status=statuses[n % 3], created_at=NOON + dt.timedelta(hours=n)
        )
        made.append(agreement)
    return customers, made


def _window(start, end, since, text):
    return (
        Agreement.objects.filter(
            term_end__gte=start,
            term_end__lte=end,
            created_at__gte=since,
        )
        .filter(Q(number__gte=text) | Q(customer__legal_name=text))
        .select_related("customer")
        .only("id", "number", "term_end", "customer__legal_name")
        .annotate(shown=Window(Count("pk")), since=F("term_end"))
        .order_by("term_end", "number")[:5]
    )


WINDOW = Read(_window, start=dt.date, end=dt.date, since=dt.datetime, text=str)
OF_CUSTOMER = Read(
    lambda customer: (
        Agreement.objects.for_user(customer_user(customer))
        .order_by("number")
        .values_list("number", "term_end", "customer__legal_name")
    ),
    customer=int,
)
COUNT = Read(lambda status: counted(Agreement.objects.filter(status=status)), status=str)


def as_seen(agreement):
    return (
        agreement.pk,
        agreement.number,
        agreement.term_end,
        agreement.customer.legal_name,
        agreement.shown,
        agreement.since,
    )


days = st.integers(min_value=-30, max_value=90).map(lambda n: BASE + dt.timedelta(days=n))
moments = st.integers(min_value=-120, max_value=900).map(
    lambda minutes: NOON + dt.timedelta(minutes=minutes)
)
texts = st.sampled_from(["", "CA-2027-0003", "CA-2027-0007", "Customer 1", "Customer 2", "D", "%"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=days, end=days, since=moments, text=texts)
def test_a_read_gives_what_its_queryset_gives_whatever_the_values(
    agreements, start, end, since, text
):
    ours = WINDOW.run(start=start, end=end, since=since, text=text)
    theirs = list(_window(start, end, since, text))
    assert [as_seen(a) for a in ours] == [as_seen(a) for a in theirs]
    assert all(isinstance(a, Agreement) and not a._state.adding for a in ours)


def test_the_generated_values_find_rows(agreements):
    """The values above select rows, some of them: the comparison is not of empty lists."""
    found = WINDOW.run(start=BASE, end=BASE + dt.timedelta(days=90), since=NOON, text="")
    assert [a.number for a in found] == [f"CA-2027-{n:04d}" for n in (0, 1, 2, 3, 5)]
    assert {a.shown for a in found} == {8}
    assert found[1].customer.legal_name == "Customer 1"


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(status=st.sampled_from([*Agreement.Status.values, "no-such-status"]))
def test_a_counted_read_gives_the_count(agreements, status):
    assert COUNT.run(status=status) == [(Agreement.objects.filter(status=status).count(),)]


def _ending(cap=None, none=False, *, start, end):
    """Agreements whose latest term ends between start and end; a shape: ``cap`` (a slice),
    ``none`` (``.none()``)."""
    found = Agreement.objects.filter(term_end__gte=start, term_end__lte=end)
    found = found.none() if none else found.select_related("customer").order_by("term_end")
    return found if cap is None else found[:cap]


CAPPED = CountRead(_ending, start=dt.date, end=dt.date)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=days, end=days, cap=st.sampled_from([None, 0, 1, 3, 100]))
def test_a_count_read_gives_the_count_django_gives_a_slice_or_not(agreements, start, end, cap):
    """What a count is: a COUNT over the slice, where the slice has one (a capped count); one
    query, the first run of a shape included (its statement is taken, not run)."""
    with CaptureQueriesContext(connection) as queries:
        ours = CAPPED.run(shape=(cap,), start=start, end=end)
    assert ours == [(_ending(cap, start=start, end=end).count(),)]
    assert len(queries) == (0 if cap == 0 else 1)  # [0:0] reads nothing, as Django's count


def test_a_count_read_counts_rows_and_stops_at_the_cap(agreements):
    wide = {"start": BASE - dt.timedelta(days=1), "end": BASE + dt.timedelta(days=90)}
    assert CAPPED.run(shape=(None,), **wide) == [(8,)]  # nine agreements, one without a term
    assert CAPPED.run(shape=(3,), **wide) == [(3,)]
    assert CAPPED.run(shape=(None, True), **wide) == [(0,)]  # .none(): known without a query


def test_a_customer_users_read_is_scoped_as_the_customer_user_is(agreements):
    customers, made = agreements
    for n, customer in enumerate(customers):
        user = User.objects.create(email=f"c{n}@example.com", role=Role.CUSTOMER, customer=customer)
        expected = list(
            Agreement.objects.for_user(user)
            .order_by("number")
            .values_list("number", "term_end", "customer__legal_name")
        )
        assert OF_CUSTOMER.run(customer=customer.pk) == expected
        assert [number for number, _, _ in expected] == [
            a.number for a in made if a.customer_id == customer.pk
        ]
    assert {since for _, since, _ in OF_CUSTOMER.run(customer=customers[1].pk)} == {
        None,
        BASE + dt.timedelta(weeks=1),
        BASE + dt.timedelta(weeks=7),
    }
    assert OF_CUSTOMER.run(customer=987654) == []


def test_a_read_is_one_query_and_is_built_once(agreements):
    built = []

    def build(customer):
        built.append(customer)
        return Contact.objects.filter(customer_id=customer).select_related("customer")

    read = Read(build, customer=int)
    customers, _ = agreements
    contact = ContactFactory(customer=customers[0], name="Dana")
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            found = read.run(customer=customers[0].pk)
        assert len(queries) == 1
        assert [(c.pk, c.name, c.customer.legal_name) for c in found] == [
            (contact.pk, "Dana", "Customer 0")
        ]
    # Once to learn its model, twice to compile (two sets of stand-ins): never per run.
    assert len(built) == 3
    assert read.run(customer=customers[1].pk) == []


@pytest.mark.parametrize(
    ("build", "kinds", "message"),
    [
        # A value worked out from another would be run stale: it must be a value of its own.
        (
            lambda today: Agreement.objects.filter(term_end__lte=today + dt.timedelta(days=90)),
            {"today": dt.date},
            "worked out from its values",
        ),
        # So is a pattern the ORM makes of the text (LIKE '%text%').
        (
            lambda text: Agreement.objects.filter(number__contains=text),
            {"text": str},
            "worked out from its values",
        ),
        (lambda today: Agreement.objects.all(), {"today": dt.date}, "does not use"),
        # A limit is part of the SQL's text.
        (lambda first: Agreement.objects.all()[:first], {"first": int}, "depends on its values"),
        (
            lambda customer: Agreement.objects.filter(customer=customer).prefetch_related("terms"),
            {"customer": int},
            "no prefetch_related",
        ),
    ],
)
def test_a_read_that_would_not_be_the_same_for_other_values_is_refused(build, kinds, message):
    read = Read(build, **kinds)
    values = {"today": BASE, "first": 3, "customer": 1, "text": "CA"}
    with pytest.raises(ValueError, match=message):
        read.run(**{name: values[name] for name in kinds})


def test_values_of_the_wrong_kind_are_refused(agreements):
    with pytest.raises(TypeError, match="start is a date"):
        WINDOW.run(start=NOON, end=BASE, since=NOON, text="")
    with pytest.raises(TypeError, match="since is a datetime"):
        WINDOW.run(start=BASE, end=BASE, since=BASE, text="")
    with pytest.raises(TypeError, match="Expected the values"):
        WINDOW.run(start=BASE, end=BASE, since=NOON)
    with pytest.raises(TypeError, match="dates, datetimes, ints or strings"):
        Read(lambda flag: Agreement.objects.all(), flag=bool)


PAGE = Read(
    lambda order, start, stop, since: (
        Agreement.objects.filter(created_at__gte=since)
        .order_by(*order)
        .values_list("number", flat=True)[start:stop]
    ),
    shapes=3,
    since=dt.datetime,
)


def test_each_shape_is_compiled_once_and_the_last_few_kept(agreements):
    numbers = [f"CA-2027-{n:04d}" for n in range(9)]
    for order, start, stop in [
        (("number",), 0, 4),
        (("-number",), 0, 4),
        (("number",), 4, 8),
        (("number",), 8, 12),
        (("number",), 0, 0),
        (("number",), 0, 4),
    ]:
        found = PAGE.run(shape=(order, start, stop), since=NOON)
        assert found == sorted(numbers, reverse=order[0].startswith("-"))[start:stop]
        assert len(PAGE._compiled) <= 3
    assert PAGE.run(shape=(("number",), 0, 4), since=NOON + dt.timedelta(hours=2)) == numbers[2:6]


def test_attach_leaves_what_prefetch_related_leaves(agreements):
    customers, made = agreements
    ContactFactory(customer=customers[0], name="Ana")
    ContactFactory(customer=customers[0], name="Bo")
    contacts = Read(
        lambda: Contact.objects.filter(customer__legal_name__startswith="Customer")
    ).run()
    ours = list(Customer.objects.order_by("pk"))
    attach(ours, "contacts", contacts)
    theirs = list(Customer.objects.order_by("pk").prefetch_related("contacts"))
    with CaptureQueriesContext(connection) as queries:
        for mine, prefetched in zip(ours, theirs, strict=True):
            assert [c.pk for c in mine.contacts.all()] == [c.pk for c in prefetched.contacts.all()]
            assert all(contact.customer is mine for contact in mine.contacts.all())
    assert len(queries) == 0
    assert [c.name for c in ours[0].contacts.all()] == ["Ana", "Bo"]
    assert list(ours[1].contacts.all()) == []
    # The manager still queries what it is asked beyond its rows.
    assert [c.name for c in ours[0].contacts.filter(name="Bo")] == ["Bo"]


def test_a_read_compiled_by_another_thread_runs_on_this_threads_connection(agreements):
    """A threaded server's first request may compile a read another thread then runs: each run
    uses its own thread's connection (here: it sees the test's rows, not yet committed)."""
    customers, _ = agreements
    read = Read(lambda customer: Contact.objects.filter(customer_id=customer), customer=int)
    contact = ContactFactory(customer=customers[2], name="Cy")

    def compile_there():
        read._model = Contact
        read._compiled["default", ()] = read._compile("default", ())
        connections.close_all()

    there = threading.Thread(target=compile_there)
    there.start()
    there.join()
    assert read._compiled["default", ()].compiler.connection is not connection
    assert [c.pk for c in read.run(customer=customers[2].pk)] == [contact.pk]
