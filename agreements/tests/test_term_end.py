"""The end of the latest term stored on each agreement (``Agreement.term_end``, kept by database
triggers) always equals the one computed live from the terms, whatever writes them: activation
(``Term.objects.create``), the renewal job, an import's bulk_create, a term's end shortened, a
term deleted or renumbered or moved, raw SQL, and a save() of an agreement read before its
terms changed (issue 14)."""

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection, transaction
from django.db.models import F, Max
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements import lifecycle
from agreements.models import Agreement, AgreementVersion, Term
from scheduling.tests.factories import make_term

TODAY = dt.date(2027, 1, 1)

ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "create",
                "renew",
                "bulk",
                "shorten",
                "delete",
                "renumber",
                "move",
                "raw",
                "stale_save",
                "write",
            ]
        ),
        st.integers(min_value=0, max_value=10_000),
    ),
    min_size=1,
    max_size=8,
)


def _agreement(start):
    """An active agreement with term 1 from ``start``, its version signed (the renewal's)."""
    agreement = make_term(start=start).agreement
    agreement.versions.update(status=AgreementVersion.Status.SIGNED)
    return agreement


def live_ends() -> dict[int, dt.date | None]:
    """Agreement id → the end of its highest-numbered term (None without terms)."""
    latest: dict[int, tuple[int, dt.date]] = {}
    for agreement, number, end in Term.objects.values_list("agreement_id", "number", "end"):
        if agreement not in latest or number > latest[agreement][0]:
            latest[agreement] = (number, end)
    return {
        pk: latest[pk][1] if pk in latest else None
        for pk in Agreement.objects.values_list("pk", flat=True)
    }


def stored_ends() -> dict[int, dt.date | None]:
    return dict(Agreement.objects.values_list("pk", "term_end"))


def _latest(agreement):
    return Term.objects.filter(agreement=agreement).order_by("-number").first()


def _next_term(agreement, n):
    latest = _latest(agreement)
    start = latest.end if latest else TODAY
    return Term(
        agreement=agreement,
        number=(latest.number if latest else 0) + 1 + n % 2,
        start=start,
        end=start + relativedelta(years=1),
        locked_rates={},
        version=agreement.versions.order_by("number").first(),
    )


def apply(op, n, agreements):
    agreement = agreements[n % len(agreements)]
    other = agreements[(n + 1) % len(agreements)]
    terms = list(Term.objects.filter(agreement=agreement).order_by("number"))
    term = terms[n % len(terms)] if terms else None
    if op == "create":
        agreements.append(_agreement(TODAY + dt.timedelta(days=n % 400)))
    elif op == "renew" and (latest := _latest(agreement)):
        lifecycle.renew_agreement(agreement.pk, today=latest.end + dt.timedelta(days=n % 400))
        assert _latest(agreement).number > latest.number  # renewed
    elif op == "bulk":
        Term.objects.bulk_create([_next_term(a, n) for a in {agreement, other}])
    elif op == "shorten" and term:
        # As a termination shortening the term: its end moves back, after its start still.
        days = max(1, (term.end - term.start).days - 1 - n % 200)
        Term.objects.filter(pk=term.pk).update(end=F("start") + dt.timedelta(days=days))
    elif op == "delete" and term:
        Term.objects.filter(pk=term.pk).delete()
    elif op == "renumber":
        Term.objects.filter(agreement=agreement).update(number=F("number") + 10 + n % 5)
    elif op == "move" and term:
        # Numbered past the other agreement's terms: a second move of the same n clashed.
        top = Term.objects.filter(agreement=other).aggregate(top=Max("number"))["top"] or 0
        Term.objects.filter(pk=term.pk).update(agreement=other, number=top + 1000 + n)
    elif op == "raw":
        with connection.cursor() as cursor:
            cursor.execute(
                'UPDATE agreements_term SET "end" = "end" + %s WHERE agreement_id = %s'
                if connection.vendor == "postgresql"
                else 'UPDATE agreements_term SET "end" = date("end", %s || \' days\') '
                "WHERE agreement_id = %s",
                [n % 30 + 1, agreement.pk],
            )
    elif op == "stale_save":
        stale = Agreement.objects.get(pk=agreement.pk)
        Term.objects.bulk_create([_next_term(agreement, n)])
        stale.billing_problem = f"problem {n}"
        stale.save()  # writes the term_end it read: put back to the terms' one
    elif op == "write":
        Agreement.objects.filter(pk=agreement.pk).update(term_end=TODAY - dt.timedelta(days=n))


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops)
def test_stored_term_end_equals_the_latest_terms_end_after_any_writes(ops):
    with transaction.atomic():
        agreements = [_agreement(TODAY) for _ in range(2)]
        assert stored_ends() == live_ends()
        for op, n in ops:
            apply(op, n, agreements)
            assert stored_ends() == live_ends(), (op, n)
        transaction.set_rollback(True)


def test_an_agreement_without_terms_stores_none_and_a_new_one_cannot_be_given_one(db):
    agreement = make_term(start=TODAY).agreement
    Term.objects.filter(agreement=agreement).delete()
    assert Agreement.objects.get(pk=agreement.pk).term_end is None
    agreement.pk, agreement.number = None, "A-NEW"
    agreement.term_end = TODAY
    agreement.save()
    assert Agreement.objects.get(pk=agreement.pk).term_end is None
