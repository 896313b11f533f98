import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from billing.models import DiscountPolicy, RateCard, RateCardLine, RateKind
from billing.tests.factories import RateCardFactory, published_card

TODAY = dt.date(2026, 11, 28)


def _formset(lines, prefix="lines"):
    data = {
        "title": "Standard rates",
        "notes": "",
        f"{prefix}-TOTAL_FORMS": str(len(lines)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, (kind, name, price) in enumerate(lines):
        data.update(
            {
                f"{prefix}-{i}-kind": kind,
                f"{prefix}-{i}-name": name,
                f"{prefix}-{i}-unit": "",
                f"{prefix}-{i}-price": price,
                f"{prefix}-{i}-position": str(i),
            }
        )
    return data


STANDARD = [
    ("onsite_hourly", "On-site", "150"),
    ("remote_hourly", "Remote", "120.00"),
    ("emergency_hourly", "Emergency", "225"),
    ("after_hours_hourly", "After hours", "195"),
    ("hosting_monthly", "Website", "45.5"),
]


@time_machine.travel(dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC))
def test_admin_creates_edits_and_publishes_a_card(client_for, admin):
    client = client_for(admin)
    client.post(reverse("billing:ratecard_create"), {"title": "Standard rates"})
    card = RateCard.objects.get()
    assert card.is_draft and card.version == 1
    client.post(reverse("billing:ratecard_edit", args=[card.pk]), _formset(STANDARD))
    assert card.lines.get(kind="hosting_monthly").price == D("45.50")
    assert card.lines.get(kind="hosting_monthly").unit == "month"
    client.post(
        reverse("billing:ratecard_publish", args=[card.pk]), {"effective_date": "2026-12-01"}
    )
    card.refresh_from_db()
    assert card.status == RateCard.Status.PUBLISHED
    assert card.effective_date == dt.date(2026, 12, 1)
    assert card.published_by == admin
    assert RateCard.objects.current(on=dt.date(2026, 11, 30)) is None
    assert RateCard.objects.current(on=dt.date(2026, 12, 1)) == card


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-5", "A price cannot be negative."),
        ("abc", "Enter a price in dollars"),
        ("12.345", "at most two decimals"),
    ],
)
def test_bad_prices_are_form_errors_and_nothing_is_saved(client_for, admin, price, message):
    card = RateCardFactory(lines=[])
    lines = [*STANDARD[:4], ("hosting_monthly", "Website", price)]
    response = client_for(admin).post(
        reverse("billing:ratecard_edit", args=[card.pk]), _formset(lines)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not card.lines.exists()


def test_the_same_hourly_kind_twice_is_refused(client_for, admin):
    card = RateCardFactory(lines=[])
    lines = [("onsite_hourly", "On-site", "150"), ("onsite_hourly", "On-site B", "160")]
    response = client_for(admin).post(
        reverse("billing:ratecard_edit", args=[card.pk]), _formset(lines)
    )
    assert "is listed twice" in response.content.decode()


def test_a_second_draft_is_refused_with_a_message(client_for, admin):
    RateCardFactory()
    response = client_for(admin).post(reverse("billing:ratecard_create"), {"title": "Another"})
    assert "A draft rate card already exists" in response.content.decode()
    assert RateCard.objects.count() == 1


def test_a_published_card_cannot_be_edited(client_for, admin):
    card = published_card()
    line = card.lines.first()
    response = client_for(admin).post(
        reverse("billing:ratecard_edit", args=[card.pk]), _formset(STANDARD), follow=True
    )
    assert "cannot be changed; start a new version" in response.content.decode()
    line.price = D("1.00")
    with pytest.raises(ValidationError):
        line.save()
    with pytest.raises(ValidationError):
        line.delete()
    assert card.lines.get(pk=line.pk).price != D("1.00")


def test_publishing_needs_every_hourly_rate(admin):
    card = RateCardFactory(lines=[(RateKind.ONSITE, "On-site", "hour", D("150"))])
    with pytest.raises(ValidationError, match="Remote hourly, Emergency hourly"):
        card.publish(by=admin, effective_date=TODAY, today=TODAY)
    card.refresh_from_db()
    assert card.is_draft


def test_publishing_refuses_a_past_effective_date(admin):
    draft = published_card().start_new_version(by=admin)
    with pytest.raises(ValidationError, match="cannot be in the past"):
        draft.publish(by=admin, effective_date=TODAY - dt.timedelta(days=1), today=TODAY)
    draft.refresh_from_db()
    assert draft.is_draft


def test_new_version_copies_lines_and_leaves_the_published_card_alone(client_for, admin):
    card = published_card()
    client_for(admin).post(reverse("billing:ratecard_new_version", args=[card.pk]))
    draft = RateCard.objects.get(status=RateCard.Status.DRAFT)
    assert draft.version == card.version + 1
    assert [(line.kind, line.price) for line in draft.lines.all()] == [
        (line.kind, line.price) for line in card.lines.all()
    ]
    RateCardLine.objects.filter(card=draft, kind="onsite_hourly").update(price=D("175"))
    assert card.lines.get(kind="onsite_hourly").price == D("150.00")


def test_current_card_is_the_latest_published_in_effect(db):
    old = published_card(effective_date=dt.date(2026, 1, 1))
    new = published_card(effective_date=dt.date(2027, 1, 1))
    assert RateCard.objects.current(on=dt.date(2026, 12, 31)) == old
    assert RateCard.objects.current(on=dt.date(2027, 1, 1)) == new
    assert RateCard.objects.current(on=dt.date(2025, 12, 31)) is None


def test_the_25_percent_discount_is_data(db):
    assert DiscountPolicy.percent_for("maintenance", on=TODAY) == D("25.00")
    assert DiscountPolicy.percent_for("prescheduled", on=TODAY) == D("25.00")
    assert DiscountPolicy.percent_for("emergency", on=TODAY) == D("0")
    DiscountPolicy.objects.create(
        service_kind="maintenance", percent=D("30"), effective_date=dt.date(2027, 1, 1)
    )
    assert DiscountPolicy.percent_for("maintenance", on=dt.date(2026, 12, 31)) == D("25.00")
    assert DiscountPolicy.percent_for("maintenance", on=dt.date(2027, 1, 1)) == D("30.00")


def test_staff_may_read_rate_cards_but_not_change_them(client_for, staff):
    card = published_card()
    page = client_for(staff).get(reverse("billing:ratecard_detail", args=[card.pk]))
    assert "On-site support" in page.content.decode()
    assert "Start a new version" not in page.content.decode()
