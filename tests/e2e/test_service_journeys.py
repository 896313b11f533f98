"""Service delivery in the browser: a customer files an emergency request and a technician
acknowledges it; a designated approver approves a project estimate, after which staff log
time on it."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agreements.models import Contact
from agreements.tests.factories import signed_agreement
from billing.models import TimeEntry
from billing.tests.factories import published_card
from delivery.models import EmergencyRequest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agreement(customer_a, alice, admin):
    published_card()
    signed_at = timezone.now() - dt.timedelta(days=45)
    return signed_agreement(
        customer=customer_a, customer_user=alice, admin=admin, signed_at=signed_at, pdf=False
    ).agreement


def test_a_customer_files_an_emergency_and_a_technician_acknowledges_it(
    page, live_server, sign_in, sign_out, alice, staff, agreement
):
    sign_in(alice)
    page.get_by_role("link", name="Request emergency support").click()
    page.get_by_role("button", name="Send the emergency request").click()
    expect(page.get_by_text("Say what is wrong")).to_be_visible()  # nothing is filed empty
    page.get_by_label("What is wrong").fill("The server room is flooding")
    page.get_by_label("Who should we call").fill("Alice Moore")
    page.get_by_label("Their phone number").fill("(919) 555-0101")
    page.get_by_label("Site (where to go)").fill("410 Glenwood Avenue")
    page.get_by_role("button", name="Send the emergency request").click()
    expect(page.get_by_text("Your emergency request is received")).to_be_visible()
    expect(page.get_by_text("1 hour, 24×7")).to_be_visible()
    expect(page.get_by_text("Clock running")).to_be_visible()
    request = EmergencyRequest.objects.get()
    sign_out()

    sign_in(staff)
    page.get_by_role("button", name="Service").click()
    page.get_by_role("link", name="Emergencies").click()
    expect(page.locator("#open-emergencies")).to_contain_text("min left")
    page.get_by_role("link", name=f"#{request.pk}").click()
    page.get_by_role("button", name="Acknowledge (stop the clock)").click()
    expect(page.get_by_text("Acknowledged: the clock has stopped")).to_be_visible()
    page.get_by_label("What was done").fill("Pumped out the water, moved the server.")
    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_text("The request is resolved.")).to_be_visible()
    sign_out()

    sign_in(alice)
    page.get_by_role("link", name="Emergencies").click()
    expect(page.get_by_text("Met", exact=True)).to_be_visible()
    request.refresh_from_db()
    assert request.outcome == "met" and request.acknowledged_by == staff


def test_an_approver_approves_the_estimate_then_staff_log_time(
    page, live_server, sign_in, sign_out, alice, staff, agreement, customer_a
):
    Contact.objects.filter(user=alice).update(is_project_approver=True)
    sign_in(staff)
    page.get_by_role("button", name="Service").click()
    page.get_by_role("link", name="Projects").click()
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Customer").fill(str(customer_a))  # a search box (issue 14)
    page.get_by_label("Title").fill("Office move")
    page.get_by_label("Scope").fill("Move the network and the server to the new office.")
    page.get_by_label("Estimated hours").fill("6")
    page.get_by_role("button", name="Create and send for approval").click()
    expect(page.get_by_text("its estimate went to the customer's approvers")).to_be_visible()
    # Before the approval, time is refused with a message.
    page.locator("form[action$='/time/'] input[name='hours']").fill("2")
    page.get_by_role("button", name="Log time").click()
    expect(page.get_by_text("No time can be logged on “Office move”")).to_be_visible()
    sign_out()

    sign_in(alice)
    page.get_by_role("link", name="Office move", exact=True).click()
    page.get_by_label("Type your full name").fill("Alice Moore")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("You approved estimate #1")).to_be_visible()
    sign_out()

    sign_in(staff)
    page.get_by_role("button", name="Service").click()
    page.get_by_role("link", name="Projects").click()
    page.get_by_role("link", name="Office move", exact=True).click()
    page.locator("form[action$='/time/'] input[name='hours']").fill("2")
    page.get_by_role("button", name="Log time").click()
    expect(page.get_by_text("2 h logged on the project")).to_be_visible()
    expect(page.locator("#project-hours")).to_contain_text("2.00 logged of 6.00 approved")
    entry = TimeEntry.objects.get()
    assert (entry.project.title, entry.agreement, entry.line, entry.technician) == (
        "Office move",
        None,
        None,
        staff,
    )
