"""A Prescheduled schedule that plans more hours than its monthly block: found per month of the
term (scheduling.blocks), and shown while drafting and before sending."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.urls import reverse

from agreements import signing
from agreements.models import AgreementVersion, ServiceKind, ServiceLine
from agreements.tests.factories import (
    AgreementFactory,
    VersionFactory,
    agreement_for_2027,
    draft_with_all_services,
    signer_contact,
)
from billing.tests.factories import STANDARD_LINES, published_card
from scheduling.blocks import Overrun, block_overruns, version_block_overruns

NY = "America/New_York"
YEAR_2027 = {"start": dt.date(2027, 1, 1), "end": dt.date(2028, 1, 1)}
RATE = D("150.00")
# 10:00 in Raleigh on 2027-02-15: "today" for the pages.
NOW = dt.datetime(2027, 2, 15, 15, 0, tzinfo=dt.UTC)


def prescheduled(rrule="FREQ=WEEKLY;BYDAY=TU", *, at=dt.time(9, 0), minutes=120, block="8.00"):
    """An unsaved Prescheduled line: the pure function needs only its attributes."""
    return ServiceLine(
        kind=ServiceKind.PRESCHEDULED,
        hours_per_month=D(block),
        labor_rate="onsite_hourly",
        rrule=rrule,
        start_time=at,
        duration_minutes=minutes,
    )


def months(overruns):
    return [overrun.label for overrun in overruns]


# The rule ------------------------------------------------------------------------------------


def test_every_tuesday_for_2_hours_overruns_an_8_hour_block_in_months_with_five_tuesdays():
    overruns = block_overruns(prescheduled(), tz=NY, **YEAR_2027, rate=RATE)

    assert months(overruns) == ["March 2027", "June 2027", "August 2027", "November 2027"]
    assert overruns[0] == Overrun(
        month=dt.date(2027, 3, 1),
        start=dt.date(2027, 3, 1),
        end=dt.date(2027, 4, 1),
        planned_hours=D("10.00"),
        block_hours=D("8.00"),
        excess_hours=D("2.00"),
        rate=RATE,
        cost=D("300.00"),
    )
    assert {(o.planned_hours, o.block_hours, o.excess_hours, o.cost) for o in overruns} == {
        (D("10.00"), D("8.00"), D("2.00"), D("300.00"))
    }


@pytest.mark.parametrize(
    ("rrule", "minutes", "block"),
    [
        ("FREQ=WEEKLY;BYDAY=TU", 120, "10.00"),  # five Tuesdays fill the block exactly
        ("FREQ=MONTHLY;BYDAY=+3WE", 120, "8.00"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", 240, "12.00"),  # at most 3 visits a month
    ],
)
def test_a_schedule_that_fits_the_block_gives_no_warning(rrule, minutes, block):
    line = prescheduled(rrule, minutes=minutes, block=block)
    assert block_overruns(line, tz=NY, **YEAR_2027, rate=RATE) == []


def test_partial_first_and_last_months_are_prorated_by_days():
    # A term from Tuesday 2027-03-16: March 16–31 is 16 of 31 days, so the block is
    # 8 × 16/31 = 4.129 → 4.13 h against 3 Tuesdays (6 h); March 1–15, 2028 is 15 of 31 days:
    # 3.87 h against 2 Tuesdays (4 h). February 2028 has five Tuesdays (leap year).
    overruns = block_overruns(
        prescheduled(), tz=NY, start=dt.date(2027, 3, 16), end=dt.date(2028, 3, 16), rate=RATE
    )

    assert months(overruns) == [
        "March 16–31, 2027",
        "June 2027",
        "August 2027",
        "November 2027",
        "February 2028",
        "March 1–15, 2028",
    ]
    first, last = overruns[0], overruns[-1]
    assert (first.planned_hours, first.block_hours, first.excess_hours) == (
        D("6.00"),
        D("4.13"),
        D("1.87"),
    )
    assert first.cost == D("280.50")  # 1.87 × 150
    assert first.is_partial and not overruns[1].is_partial
    assert (last.planned_hours, last.block_hours, last.excess_hours, last.cost) == (
        D("4.00"),
        D("3.87"),
        D("0.13"),
        D("19.50"),
    )


def test_daylight_saving_months_count_each_visit_once_for_its_elapsed_hours():
    # Every day at 02:30 for 1 h: on 2027-03-14 02:30 does not exist (the visit moves to 03:30),
    # on 2027-11-07 01:30 happens twice (the first is taken). Neither is lost or doubled.
    spring = prescheduled("FREQ=DAILY", at=dt.time(2, 30), minutes=60, block="30.00")
    fall = prescheduled("FREQ=DAILY", at=dt.time(1, 30), minutes=60, block="29.00")
    march = {"start": dt.date(2027, 3, 1), "end": dt.date(2027, 4, 1)}
    november = {"start": dt.date(2027, 11, 1), "end": dt.date(2027, 12, 1)}

    (in_march,) = block_overruns(spring, tz=NY, **march, rate=RATE)
    (in_november,) = block_overruns(fall, tz=NY, **november, rate=RATE)

    assert (in_march.planned_hours, in_march.excess_hours) == (D("31.00"), D("1.00"))
    assert (in_november.planned_hours, in_november.excess_hours) == (D("30.00"), D("1.00"))


def test_a_visit_across_the_fall_back_hour_counts_its_elapsed_hours():
    # Sundays at 00:30 for 3 hours: on 2027-11-07 the clock shows 00:30–02:30 but 3 hours pass.
    line = prescheduled("FREQ=WEEKLY;BYDAY=SU", at=dt.time(0, 30), minutes=180, block="11.00")
    (overrun,) = block_overruns(
        line, tz=NY, start=dt.date(2027, 11, 1), end=dt.date(2027, 12, 1), rate=RATE
    )
    assert overrun.planned_hours == D("12.00")  # 4 Sundays × 3 h


def test_visits_count_in_their_local_month_not_the_utc_one():
    # The last day of each month at 22:00 in New York is already the next month in UTC.
    line = prescheduled("FREQ=MONTHLY;BYMONTHDAY=-1", at=dt.time(22, 0), minutes=600)
    overruns = block_overruns(line, tz=NY, **YEAR_2027, rate=RATE)
    assert len(overruns) == 12
    assert {o.planned_hours for o in overruns} == {D("10.00")}


def test_no_rate_still_lists_the_hours_without_a_cost():
    (march, *_) = block_overruns(prescheduled(), tz=NY, **YEAR_2027, rate=None)
    assert (march.excess_hours, march.rate, march.cost) == (D("2.00"), None, None)


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": ServiceKind.MAINTENANCE},
        {"hours_per_month": None},
        {"rrule": ""},
        {"start_time": None},
    ],
)
def test_lines_without_a_block_and_a_schedule_have_no_overrun(changes):
    line = prescheduled()
    for name, value in changes.items():
        setattr(line, name, value)
    assert block_overruns(line, tz=NY, **YEAR_2027, rate=RATE) == []


# Loading a version's term and rates ------------------------------------------------------------


@pytest.mark.django_db
def test_a_draft_is_checked_over_its_prospective_first_term_at_todays_standard_rate():
    published_card(effective_date=dt.date(2026, 1, 1))
    version = draft_with_all_services(start_date=dt.date(2027, 3, 16))

    (found,) = version_block_overruns(version, today=dt.date(2027, 2, 15))

    assert found.line.kind == ServiceKind.PRESCHEDULED and found.is_first_term
    assert (found.start, found.end, found.last_day) == (
        dt.date(2027, 3, 16),
        dt.date(2028, 3, 16),
        dt.date(2028, 3, 15),
    )
    assert found.overruns[0].rate == D("150.00")
    assert found.total_cost == sum(o.cost for o in found.overruns)
    # 1.87 + 2 + 2 + 2 + 2 + 0.13 hours at $150.00
    assert (found.excess_hours, found.total_cost) == (D("10.00"), D("1500.00"))


@pytest.mark.django_db
def test_without_a_start_date_the_term_starts_today_and_a_sent_version_uses_its_exhibit_a():
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = AgreementFactory()
    snapshot = {
        "rate_card": {"version": 9, "title": "Sent", "effective_date": "2026-01-01"},
        "discounts": {"prescheduled": "25.00"},
        "rates": [{"kind": "onsite_hourly", "name": "On-site", "unit": "hour", "price": "160.00"}],
    }
    version = VersionFactory(agreement=agreement, rates_snapshot=snapshot)
    ServiceLine.objects.create(
        version=version,
        kind=ServiceKind.PRESCHEDULED,
        hours_per_month=D("8.00"),
        labor_rate="onsite_hourly",
        rrule="FREQ=WEEKLY;BYDAY=TU",
        start_time=dt.time(9, 0),
        duration_minutes=120,
    )

    (found,) = version_block_overruns(version, today=dt.date(2027, 1, 1))

    assert (found.start, found.end) == (dt.date(2027, 1, 1), dt.date(2028, 1, 1))
    assert months(found.overruns) == ["March 2027", "June 2027", "August 2027", "November 2027"]
    assert {o.cost for o in found.overruns} == {D("320.00")}


@pytest.mark.django_db
def test_without_a_rate_card_the_hours_still_warn():
    version = draft_with_all_services()
    (found,) = version_block_overruns(version, today=dt.date(2027, 1, 1))
    assert found.total_cost is None and found.excess_hours == D("8.00")


@pytest.mark.django_db
def test_an_amendment_is_checked_over_the_rest_of_the_running_term_at_its_locked_rates(
    customer_a, alice, admin
):
    published_card(effective_date=dt.date(2026, 1, 1))
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    dearer = [(k, n, u, p + 20 if u == "hour" else p) for k, n, u, p in STANDARD_LINES]
    published_card(effective_date=dt.date(2027, 6, 1), lines=dearer)
    draft = signing.start_amendment(agreement, by=admin)

    (found,) = version_block_overruns(draft, today=dt.date(2027, 6, 15))

    assert not found.is_first_term
    assert (found.start, found.end) == (dt.date(2027, 6, 15), dt.date(2028, 1, 1))
    assert months(found.overruns) == ["June 15–30, 2027", "August 2027", "November 2027"]
    assert found.overruns[0].block_hours == D("4.27")  # 8 × 16/30
    assert {o.rate for o in found.overruns} == {D("150.00")}  # the term's, not today's card


# The pages -------------------------------------------------------------------------------------


@pytest.fixture
def draft(customer_a, alice):
    """A draft from 2027-03-01 with every Tuesday 09:00–11:00 against an 8 h block."""
    published_card(effective_date=dt.date(2026, 1, 1))
    signer_contact(customer_a, alice)
    return draft_with_all_services(customer=customer_a, start_date=dt.date(2027, 3, 1))


@time_machine.travel(NOW, tick=False)
def test_the_draft_page_warns_next_to_the_line(client_for, staff, draft):
    page = (
        client_for(staff)
        .get(reverse("agreements:agreement_detail", args=[draft.agreement_id]))
        .content.decode()
    )

    assert page.count('class="alert alert-warning mt-2 mb-0 block-overruns"') == 1
    assert (
        "The schedule plans 10 h in March 2027 against a block of 8 h: "
        "2 h of overage at $150.00 = $300.00." in page
    )
    for month in ("June 2027", "August 2027", "November 2027", "February 2028"):
        assert f"10 h in {month} against a block of 8 h" in page
    assert "in 5 months</strong> of the first term (Mar 1, 2027 – Feb 29, 2028)" in page
    assert "In all: 10 h of overage, $1,500.00." in page
    # Next to the Prescheduled line, inside its list item.
    line_at = page.index("h per month, Every Tuesday at 09:00 for 2 hours")
    warning_at = page.index("block-overruns")
    assert line_at < warning_at < page.index("Emergency Support", line_at)


@time_machine.travel(NOW, tick=False)
def test_a_schedule_that_fits_shows_no_warning(client_for, staff, draft):
    draft.lines.filter(kind=ServiceKind.PRESCHEDULED).update(hours_per_month=D("10.00"))
    page = client_for(staff).get(reverse("agreements:agreement_detail", args=[draft.agreement_id]))
    assert "block-overruns" not in page.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_send_page_warns_but_sending_goes_ahead(client_for, staff, draft, alice):
    client = client_for(staff)
    url = reverse("agreements:agreement_send", args=[draft.agreement_id])

    page = client.get(url).content.decode()
    assert "Prescheduled Services</strong> · 8" in page
    assert "2 h of overage at $150.00 = $300.00." in page
    assert "You can still send it as it is" in page

    signer = draft.agreement.customer.contacts.get(user=alice)
    response = client.post(url, {"signer": signer.pk})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == AgreementVersion.Status.SENT
