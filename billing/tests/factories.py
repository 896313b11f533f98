import datetime as dt
from decimal import Decimal as D

import factory

from billing.models import RateCard, RateCardLine, RateKind

STANDARD_LINES = [
    (RateKind.ONSITE, "On-site support", "hour", D("150.00")),
    (RateKind.REMOTE, "Remote support", "hour", D("120.00")),
    (RateKind.EMERGENCY, "Emergency support", "hour", D("225.00")),
    (RateKind.AFTER_HOURS, "After-hours support", "hour", D("195.00")),
    (RateKind.HOSTING, "Website hosting", "month", D("45.00")),
]


class RateCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateCard
        skip_postgeneration_save = True

    version = factory.Sequence(lambda n: n + 1)

    @factory.post_generation
    def lines(card, create, extracted, **kwargs):
        for position, (kind, name, unit, price) in enumerate(
            STANDARD_LINES if extracted is None else extracted
        ):
            RateCardLine.objects.create(
                card=card, kind=kind, name=name, unit=unit, price=price, position=position
            )


def published_card(*, effective_date=dt.date(2026, 1, 1), **kwargs):
    """A standard card, published (bypassing the no-past-dates rule for test set-up)."""
    card = RateCardFactory(**kwargs)
    RateCard.objects.filter(pk=card.pk).update(
        status=RateCard.Status.PUBLISHED, effective_date=effective_date
    )
    card.refresh_from_db()
    return card
