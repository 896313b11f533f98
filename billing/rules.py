"""The money of one invoice or Exhibit line, as pure functions (DESIGN.md, "Billing").

Every line reconciles on its own: list = quantity × list rate, discount = list × percent, net =
list − discount, each rounded to cents half-up. A prorated line carries the prorated quantity
(to four places), so the same three figures hold for it too.
"""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
QUANTITY = Decimal("0.0001")
HUNDRED = Decimal("100")


def money(amount) -> Decimal:
    """Round to cents, half up (never float)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def check_month_days(*, days: int, days_in_month: int):
    """Refuse what is not ``days`` days of a real month."""
    if not 28 <= days_in_month <= 31:
        raise ValueError(f"A month has 28 to 31 days, not {days_in_month}.")
    if not 0 <= days <= days_in_month:
        raise ValueError(f"{days} days is not part of a month of {days_in_month} days.")


def prorated_quantity(quantity, *, days: int, days_in_month: int) -> Decimal:
    """``quantity`` for ``days`` days of a month of ``days_in_month`` days, to four places."""
    check_month_days(days=days, days_in_month=days_in_month)
    exact = Decimal(quantity) * days / days_in_month
    return exact.quantize(QUANTITY, rounding=ROUND_HALF_UP)


def line_money(quantity, rate, percent) -> tuple[Decimal, Decimal, Decimal]:
    """(list amount, discount, net) of a line: list = quantity × rate, discount = list × percent,
    net = list − discount; each in cents half-up."""
    list_amount = money(Decimal(quantity) * Decimal(rate))
    discount = money(list_amount * Decimal(percent) / HUNDRED)
    return list_amount, discount, list_amount - discount
