"""The staff home's stored figures (issue 14, allora/snapshots.py): the same as computing them
live, at most REFRESH_EVERY old, refreshed by the beat job and by staff, computed once at a time."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements.models import Term
from allora import dashboard, queues, snapshots, tasks
from allora.models import FigureSnapshot
from allora.tests.factories import UserFactory
from allora.tests.test_dashboard import NOW, NY, TODAY, business
from billing.tests.factories import published_card
from scheduling.models import Visit
from scheduling.tests.factories import make_visit


@pytest.fixture
def card(db):
    return published_card()


def live_figures(*, today=TODAY, now=NOW):
    """The figures as the live functions compute them, in the stored figures' shapes."""
    utilization = dashboard.utilization(today=today, tz=NY)
    return {
        "mrr": dashboard.mrr_series(today=today),
        "sla": dashboard.sla_by_month(today=today, tz=NY),
        "utilization": {
            **utilization,
            "rows": [{**row, "technician": str(row["technician"])} for row in utilization["rows"]],
        },
        "clashing_visits": queues.count_clashing_visits(now=now),
    }


def stored_figures(*, today=TODAY, now=NOW):
    figures = snapshots.staff_figures(today=today, now=now, tz=NY)
    figures.pop("as_of")
    figures.pop("worker_seen")  # not a figure: the worker's heartbeat, read with them
    return figures


visits = st.lists(
    st.tuples(
        st.integers(-40, 40),  # days from TODAY
        st.integers(0, 23),  # local hour
        st.integers(15, 600),  # minutes
        st.sampled_from([0, 1, None]),  # which technician, or none
        st.sampled_from(Visit.Flag.values),
        st.sampled_from(Visit.Status.values),
    ),
    max_size=12,
)


def make_term(admin):
    """An active 2027 agreement's term (with its customer's emergency request and invoice)."""
    business(1, admin)
    return Term.objects.latest("pk")


class Rollback(Exception):
    pass


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(agreements=st.integers(0, 2), placed=visits)
def test_the_stored_figures_equal_the_live_ones_after_random_writes(
    card, admin, agreements, placed
):
    try:
        with transaction.atomic():
            business(agreements, admin)
            people = [UserFactory(role="staff"), UserFactory(role="staff")]
            term = make_term(admin)
            for days, hour, minutes, who, flag, status in placed:
                starts_at = dt.datetime.combine(
                    TODAY + dt.timedelta(days=days), dt.time(hour), tzinfo=NY
                )
                make_visit(
                    term,
                    starts_at,
                    starts_at + dt.timedelta(minutes=minutes),
                    technician=None if who is None else people[who],
                    flag=flag,
                    status=status,
                )
            stored = stored_figures()
            assert stored == live_figures()
            assert FigureSnapshot.objects.get().computed_at == NOW
            raise Rollback
    except Rollback:
        pass


def clash(term, *, days=3):
    starts_at = dt.datetime.combine(TODAY + dt.timedelta(days=days), dt.time(10), tzinfo=NY)
    return make_visit(term, starts_at, starts_at + dt.timedelta(hours=1), flag=Visit.Flag.CONFLICT)


def test_the_figures_are_at_most_refresh_every_old(card, admin):
    term = make_term(admin)
    assert stored_figures()["clashing_visits"] == 0
    clash(term)
    # Within REFRESH_EVERY the stored figures stand, then the next visit computes them again.
    almost = NOW + snapshots.REFRESH_EVERY - dt.timedelta(seconds=1)
    assert stored_figures(now=almost)["clashing_visits"] == 0
    later = NOW + snapshots.REFRESH_EVERY
    assert stored_figures(now=later) == live_figures(now=later)
    assert stored_figures(now=later)["clashing_visits"] == 1
    assert FigureSnapshot.objects.get().computed_at == later
    # A new day (or another time zone) computes them again at once: the months and weeks move.
    tomorrow = TODAY + dt.timedelta(days=1)
    figures = snapshots.staff_figures(today=tomorrow, now=later, tz=NY)
    assert figures["utilization"]["weeks"] == live_figures(today=tomorrow)["utilization"]["weeks"]


def test_the_beat_job_refreshes_the_figures_within_the_interval(card, admin):
    from allora.celery import app

    (entry,) = [e for e in app.conf.beat_schedule.values() if e["task"].endswith("staff_figures")]
    assert entry["task"] == "allora.tasks.refresh_staff_figures"
    # As often as the page deems its figures stale (every 5 minutes).
    every = snapshots.REFRESH_EVERY // dt.timedelta(minutes=1)
    assert entry["schedule"].minute == set(range(0, 60, every)) and every == 5
    term = make_term(admin)
    with time_machine.travel(NOW, tick=False):
        tasks.refresh_staff_figures()
        clash(term)
        assert stored_figures()["clashing_visits"] == 0  # fresh: the page does not recompute
        tasks.refresh_staff_figures()  # the job computes them whatever their age
        assert stored_figures()["clashing_visits"] == 1


@time_machine.travel(NOW, tick=False)
def test_staff_refresh_the_figures_and_the_page_says_as_of_when(card, admin, staff, client_for):
    term = make_term(admin)
    client = client_for(staff)
    page = client.get(reverse("staff_home")).content.decode()
    # 21:00 UTC is 16:00 in New York (Allora's time zone in the tests).
    assert 'id="figures-freshness"' in page and ">16:00</time>" in page
    assert "Visits that clash" not in page
    clash(term)
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        assert "Visits that clash" not in client.get(reverse("staff_home")).content.decode()
        response = client.post(reverse("staff_figures_refresh"), follow=True)
        page = response.content.decode()
    assert response.redirect_chain == [(reverse("staff_home"), 302)]
    assert "The figures are up to date." in page and ">16:02</time>" in page
    assert "Visits that clash" in page
    assert client.get(reverse("staff_figures_refresh")).status_code == 405


def test_a_customer_user_cannot_refresh_the_figures(card, alice, client_for):
    assert client_for(alice).post(reverse("staff_figures_refresh")).status_code == 403
    assert not FigureSnapshot.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_one_request_computes_while_the_others_show_the_figures_they_have(card, admin):
    """A refresh holds the row while it computes: a page finding the figures stale meanwhile
    shows the stored ones rather than compute them too."""
    term = make_term(admin)
    stored_figures()  # computed at NOW, no clash yet
    clash(term)
    later = NOW + snapshots.REFRESH_EVERY
    computing, release = threading.Event(), threading.Event()
    real = snapshots.compute_staff_figures

    def slow(**kwargs):
        computing.set()
        release.wait(10)
        return real(**kwargs)

    def refresh():
        try:
            snapshots.refresh_staff_figures(today=TODAY, now=later, tz=NY, force=True)
        finally:
            connections.close_all()

    snapshots.compute_staff_figures = slow
    thread = threading.Thread(target=refresh)
    thread.start()
    try:
        assert computing.wait(10)
        snapshots.compute_staff_figures = real
        # Stale, but being computed: the stored figures, at once, and no second computation.
        assert stored_figures(now=later)["clashing_visits"] == 0
        assert FigureSnapshot.objects.get().computed_at == NOW
    finally:
        release.set()
        thread.join()
        snapshots.compute_staff_figures = real
    assert FigureSnapshot.objects.get().computed_at == later
    assert stored_figures(now=later)["clashing_visits"] == 1
