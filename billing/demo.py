"""Demo rate card for `manage.py seed_demo`."""

import datetime as dt
from decimal import Decimal as D

from django.utils import timezone

from .models import RateCard, RateCardLine, RateKind

LINES = [
    (RateKind.ONSITE, "On-site support", "hour", D("150.00")),
    (RateKind.REMOTE, "Remote support", "hour", D("120.00")),
    (RateKind.EMERGENCY, "Emergency support", "hour", D("225.00")),
    (RateKind.AFTER_HOURS, "After-hours support", "hour", D("195.00")),
    (RateKind.HOSTING, "Website hosting – Standard", "month", D("45.00")),
    (RateKind.HOSTING, "Email hosting – per mailbox", "month", D("8.50")),
    (RateKind.HOSTING, "Website + email – Business", "month", D("99.00")),
]


def seed(*, today, admin):
    """Version 1 of the standard rates, in effect since 1 January of last year."""
    card = RateCard.objects.filter(version=1).first()
    if card is None:
        card = RateCard.objects.create(version=1, created_by=admin)
        RateCardLine.objects.bulk_create(
            RateCardLine(card=card, kind=kind, name=name, unit=unit, price=price, position=i)
            for i, (kind, name, unit, price) in enumerate(LINES)
        )
        card.status = RateCard.Status.PUBLISHED
        card.effective_date = dt.date(today.year - 1, 1, 1)
        card.published_by = admin
        card.published_at = timezone.now()
        card.save()
    return card
