"""The demo business (``manage.py seed_demo``): every part of it is there, and a second run
changes nothing."""

import datetime as dt
import os

import pytest
from django.core.management import call_command

from agreements.models import Contact, Customer, Term
from allora.models import User
from billing.models import RateCard, RateCardLine
from delivery.models import EmergencyRequest, Project
from scheduling.models import Holiday, LineAssignment, Visit

pytestmark = pytest.mark.django_db


def seed_demo(*args):
    with open(os.devnull, "w") as devnull:
        call_command("seed_demo", *args, stdout=devnull)


def test_seed_demo_is_idempotent():
    def counts():
        return [m.objects.count() for m in (User, Customer, Contact, RateCard, RateCardLine)]

    seed_demo("--today", "2026-11-28")
    first = counts()
    seed_demo("--today", "2026-11-28")
    assert counts() == first
    assert first[0] >= 6 and first[1] == 4
    assert RateCard.objects.current(on=dt.date(2026, 11, 28)) is not None
    # Every term's monthly amount is stored, as the nightly job would have done.
    assert Term.objects.exists() and not Term.objects.filter(monthly_amount__isnull=True).exists()


def test_the_demo_plans_assigns_and_reports_and_is_idempotent():
    def snapshot():
        return (
            Visit.objects.count(),
            Visit.objects.filter(status=Visit.Status.COMPLETED).count(),
            LineAssignment.objects.count(),
            Holiday.objects.count(),
        )

    seed_demo("--today", "2026-11-28")
    first = snapshot()
    seed_demo("--today", "2026-11-28")

    assert snapshot() == first
    visits, completed, assignments, holidays = first
    assert visits > 50 and completed > 5 and assignments == 3 and holidays >= 30
    marcus = Visit.objects.filter(technician__email="marcus@allora.example")
    assert marcus.exists() and marcus.filter(status="completed").exclude(findings="").exists()


def test_the_demo_has_met_breached_open_requests_and_projects_in_every_state():
    seed_demo()
    seed_demo()  # idempotent
    outcomes = set(EmergencyRequest.objects.values_list("outcome", flat=True))
    assert {"met", "breached", "no_guarantee"} <= outcomes
    assert EmergencyRequest.objects.filter(status="open").count() == 1
    assert set(Project.objects.values_list("status", flat=True)) == {
        "in_progress",
        "awaiting",
        "declined",
    }
