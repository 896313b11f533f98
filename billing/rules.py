"""The money rules of one invoice or Exhibit line, as pure functions (DESIGN.md, "Billing").

Every line reconciles on its own: list = quantity × list rate, discount = list × percent, net =
list − discount, each rounded to cents half-up; an invoice's totals are the sums of its lines'
rounded figures. A prorated line carries the prorated quantity (to four places), so the same
three figures hold for it too; a prorated block counts its hours to 0.01 h. A negative quantity
(a reversal, a credit) gives the same figures with the opposite sign.

The agreement discount covers Monthly Maintenance and the Prescheduled Services block (at the
percent the rates in force give each); hosting, Emergency Support and prescheduled hours beyond
the block are billed at the standard rate. Which rates are in force is pricing.py's question;
the discount policy table itself is ``models.DiscountPolicy``.

Inputs are explicit (amounts, rates, days, the rates snapshot as JSON): nothing here reads the
database or the clock.
"""

from decimal import ROUND_HALF_UP, Decimal

from agreements.models import ServiceKind

CENT = Decimal("0.01")
HOURS = Decimal("0.01")
QUANTITY = Decimal("0.0001")
HUNDRED = Decimal("100")
ZERO = Decimal("0.00")

# The service kinds the agreement discount applies to (a rates snapshot has a percent for each).
DISCOUNTED_KINDS = (ServiceKind.MAINTENANCE, ServiceKind.PRESCHEDULED)


def money(amount) -> Decimal:
    """Round to cents, half up (never float)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def check_month_days(*, days: int, days_in_month: int):
    """Refuse what is not ``days`` days of a real month."""
    if not 28 <= days_in_month <= 31:
        raise ValueError(f"A month has 28 to 31 days, not {days_in_month}.")
    if not 0 <= days <= days_in_month:
        raise ValueError(f"{days} days is not part of a month of {days_in_month} days.")


def prorate(amount, *, days: int, days_in_month: int) -> Decimal:
    """``amount`` for ``days`` days of a month of ``days_in_month`` days, in cents half-up."""
    check_month_days(days=days, days_in_month=days_in_month)
    return money(Decimal(amount) * days / days_in_month)


def prorated_quantity(quantity, *, days: int, days_in_month: int) -> Decimal:
    """``quantity`` for ``days`` days of a month of ``days_in_month`` days, to four places."""
    check_month_days(days=days, days_in_month=days_in_month)
    exact = Decimal(quantity) * days / days_in_month
    return exact.quantize(QUANTITY, rounding=ROUND_HALF_UP)


def prorated_hours(hours, *, days: int, days_in_month: int) -> Decimal:
    """The hours of a monthly block for ``days`` days of the month, to 0.01 h half up (all of
    them for a whole month): what the block includes before overage starts."""
    check_month_days(days=days, days_in_month=days_in_month)
    exact = Decimal(hours) * days / days_in_month
    return exact.quantize(HOURS, rounding=ROUND_HALF_UP)


def discount_percent(rates: dict, kind: str) -> Decimal:
    """The agreement discount (percent) of a line of ``kind`` priced at ``rates`` (a rates
    snapshot): the snapshot's percent for Monthly Maintenance and the Prescheduled Services block
    (0 when it has none); no discount for hosting, Emergency Support or prescheduled hours beyond
    the block ("overage"). ``kind`` is a service kind or an invoice line kind: the discounted
    ones share their names."""
    if kind not in DISCOUNTED_KINDS:
        return ZERO
    return Decimal(rates["discounts"].get(kind, "0"))


def net_rate(rate, percent) -> Decimal:
    """The rate after a ``percent`` discount, in cents half-up (what a line shows per unit)."""
    return money(Decimal(rate) * (HUNDRED - Decimal(percent)) / HUNDRED)


def list_amount(quantity, rate) -> Decimal:
    """quantity × list rate, in cents half-up."""
    return money(Decimal(quantity) * Decimal(rate))


def line_money(quantity, rate, percent) -> tuple[Decimal, Decimal, Decimal]:
    """(list amount, discount, net) of a line: list = quantity × rate, discount = list × percent,
    net = list − discount; each in cents half-up."""
    listed = list_amount(quantity, rate)
    discount = money(listed * Decimal(percent) / HUNDRED)
    return listed, discount, listed - discount


def totals(lines) -> tuple[Decimal, Decimal, Decimal]:
    """(list amount, discount, net) of some lines (anything with ``list_amount`` and ``amount``,
    the net): sums of the per-line rounded amounts, never a rounding of the sum."""
    listed = sum((line.list_amount for line in lines), ZERO)
    net = sum((line.amount for line in lines), ZERO)
    return listed, listed - net, net
