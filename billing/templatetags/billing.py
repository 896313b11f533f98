"""Money in templates."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.conf import settings
from django.template.defaultfilters import floatformat
from django.utils.formats import localize
from django.utils.html import format_html_join
from django.utils.translation import get_language

from billing import timesheets

register = template.Library()


@register.filter
def usd(value):
    """Dollars with cents and thousands separators: $1,170.00 (−$75.00 when negative)."""
    if value in (None, ""):
        return ""
    amount = Decimal(value)
    sign = "−" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


@register.filter(is_safe=True)
def decimals(value, arg=-1):
    """Django's ``floatformat`` (the same arguments, the same text) for the Decimal and int
    amounts of the agreement document, in English: written out directly, where
    ``floatformat`` looks the language's number formats up for each number (about 20 µs each,
    40 of them on an agreement's page; issue 14). Anything else is floatformat's."""
    places = arg
    grouping = settings.USE_THOUSAND_SEPARATOR
    if isinstance(arg, str) and arg.endswith("g") and not arg.endswith(("ug", "gu")):
        places, grouping = arg[:-1] or -1, True
    if (
        type(value) not in (Decimal, int)
        or not isinstance(places, int | str)
        or not (get_language() or "").startswith("en")
    ):
        return floatformat(value, arg)
    try:
        places = int(places)
    except ValueError:
        return floatformat(value, arg)
    amount = Decimal(value)
    if not amount.is_finite() or amount.adjusted() > 20:
        return floatformat(value, arg)
    if places <= 0 and amount == amount.to_integral_value():
        return f"{int(amount):,}" if grouping else str(int(amount))
    rounded = amount.quantize(Decimal(1).scaleb(-abs(places)), ROUND_HALF_UP)
    rounded = rounded or abs(rounded)  # no "-0.00"
    return f"{rounded:,f}" if grouping else f"{rounded:f}"


@register.filter
def rate_items(rates):
    """The ``<li>`` of each rate of a rates snapshot, "name: $price/unit", written at once: the
    agreement page lists the locked rates of every term (issue 14). Each value is rendered as
    ``{{ rate.name }}`` would render it (localized, escaped; a missing one is empty)."""
    return format_html_join(
        "",
        "<li>{}: ${}/{}</li>",
        ([localize(rate.get(key, "")) for key in ("name", "price", "unit")] for rate in rates),
    )


@register.filter
def usd_change(value):
    """A change in dollars with its sign: +$7.50, −$7.50, $0.00."""
    if value in (None, ""):
        return ""
    return f"+{usd(value)}" if Decimal(value) > 0 else usd(value)


@register.filter
def number(value):
    """A quantity without trailing zeros: 2.00 → 2, 1.50 → 1.5."""
    return f"{Decimal(value).normalize():f}"


@register.filter
def percent(value):
    """25.00 → 25%, 12.50 → 12.5%."""
    return f"{number(value)}%"


@register.filter
def billing_state(entry):
    """Where a time entry is billed (``billing.timesheets.billing_state``)."""
    return timesheets.billing_state(entry)
