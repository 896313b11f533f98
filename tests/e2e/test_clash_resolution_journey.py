"""Staff assign a technician who is busy at the times of a service: the page warns before they
save, the clashing visits wait on the service's "Visits to resolve" page, and staff give them all
to another technician in one go."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agreements.tests.factories import signed_agreement
from allora.tests.factories import UserFactory
from billing.tests.factories import published_card
from scheduling.models import Visit
from scheduling.planning import assign_line

pytestmark = pytest.mark.django_db(transaction=True)


def maintenance_line(agreement):
    return agreement.versions.get(status="signed").lines.get(kind="maintenance")


def test_clashing_visits_are_resolved_together(
    page, live_server, sign_in, staff, admin, customer_a, customer_b, alice, bob
):
    published_card()
    signed_at = timezone.now() - dt.timedelta(days=10)
    oak, legal = (
        signed_agreement(
            customer=customer, customer_user=user, admin=admin, signed_at=signed_at, pdf=False
        ).agreement
        for customer, user in ((customer_a, alice), (customer_b, bob))
    )
    # Customer B's visits, at the same times as A's, already belong to the technician.
    assign_line(maintenance_line(legal), technician=staff, by=admin, today=legal.terms.get().start)
    priya = UserFactory(role="staff", first_name="Priya", last_name="Raman")
    line = maintenance_line(oak)
    upcoming = Visit.objects.open().filter(line=line, starts_at__gte=timezone.now()).count()

    sign_in(staff)
    page.goto(f"{live_server.url}/schedule/services/{line.pk}/technician/")
    page.get_by_label("Technician").select_option(label=str(staff))
    expect(page.get_by_text(f"{upcoming} of {upcoming} upcoming visits clash")).to_be_visible()
    page.get_by_label("Technician").select_option(label=str(priya))
    expect(page.get_by_text(f"{priya} is free for all {upcoming} upcoming visits.")).to_be_visible()

    # Assigning the busy technician anyway leaves the clashing visits to resolve, together.
    page.get_by_label("Technician").select_option(label=str(staff))
    expect(page.get_by_text(f"{upcoming} of {upcoming} upcoming visits clash")).to_be_visible()
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("heading", name="Visits to resolve")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("checkbox")).to_have_count(upcoming)
    page.get_by_label("Give them to").select_option(label=str(priya))
    page.get_by_role("button", name="Resolve the ticked visits").click()

    expect(page.get_by_text(f"{upcoming} visits booked with {priya}.")).to_be_visible()
    expect(page.get_by_text("Nothing to resolve")).to_be_visible()
    assert set(
        Visit.objects.open()
        .filter(line=line, starts_at__gte=timezone.now())
        .values_list("technician", "flag")
    ) == {(priya.pk, "")}
