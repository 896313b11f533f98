"""The pure money rules of invoicing: proration by days (month ends, leap February), stretches,
the discount on the line, overage at the standard rate, rounding half-up per line, credits."""

import datetime as dt
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from billing.charges import (
    Stretch,
    emergency_charge,
    included_hours,
    next_month,
    overage_charge,
    recurring_charges,
    stretches,
)
from billing.rules import (
    discount_percent,
    line_money,
    list_amount,
    money,
    net_rate,
    prorate,
    prorated_hours,
    prorated_quantity,
    totals,
)

RATES = {
    "rate_card": {"version": 1, "title": "Standard rates", "effective_date": "2026-01-01"},
    "discounts": {"maintenance": "25.00", "prescheduled": "25.00"},
    "rates": [
        {"kind": "onsite_hourly", "name": "On-site support", "unit": "hour", "price": "150.00"},
        {"kind": "remote_hourly", "name": "Remote support", "unit": "hour", "price": "120.00"},
        {"kind": "emergency_hourly", "name": "Emergency", "unit": "hour", "price": "225.00"},
        {"kind": "hosting_monthly", "name": "Website hosting", "unit": "month", "price": "45.00"},
    ],
}


def term(start, end, rates=RATES, pk=1):
    return SimpleNamespace(pk=pk, start=start, end=end, locked_rates=rates, version_id=1)


TERM = term(dt.date(2027, 1, 1), dt.date(2028, 1, 1))
MAINTENANCE = SimpleNamespace(
    pk=10, kind="maintenance", labor_rate="onsite_hourly", hours_per_visit=D("2.00")
)
PRESCHEDULED = SimpleNamespace(
    pk=11, kind="prescheduled", labor_rate="onsite_hourly", hours_per_month=D("8.00")
)
EMERGENCY = SimpleNamespace(pk=12, kind="emergency", labor_rate="")
HOSTING = SimpleNamespace(pk=13, kind="hosting", package_name="Website hosting", quantity=1)
LINES = [MAINTENANCE, PRESCHEDULED, EMERGENCY, HOSTING]


@pytest.mark.parametrize(
    ("amount", "days", "month_days", "expected"),
    [
        (D("45.00"), 31, 31, D("45.00")),  # a whole month is not prorated
        (D("45.00"), 1, 31, D("1.45")),  # 1.4516… → 1.45 (the 31st only)
        (D("45.00"), 17, 31, D("24.68")),  # 24.677… → 24.68
        (D("900.00"), 14, 29, D("434.48")),  # leap February 2028: 434.482…
        (D("900.00"), 1, 29, D("31.03")),  # 29 February 2028 alone: 31.034…
        (D("900.00"), 14, 28, D("450.00")),  # February 2027: exactly half
        (D("45.00"), 0, 30, D("0.00")),
        (D("0.10"), 15, 30, D("0.05")),  # 0.05 exactly
        (D("0.01"), 1, 2 * 15, D("0.00")),  # 0.000333… rounds down
        (D("1.00"), 15, 28, D("0.54")),  # 0.535714… → 0.54 (half-up at the third decimal)
    ],
)
def test_prorate_by_days_rounds_half_up_to_cents(amount, days, month_days, expected):
    assert prorate(amount, days=days, days_in_month=month_days) == expected


def test_prorate_rounds_an_exact_half_cent_up():
    # 0.025 exactly is where half-up (0.03) and banker's rounding (0.02) differ.
    assert prorate(D("0.03"), days=15, days_in_month=30) == D("0.02")
    assert prorate(D("0.05"), days=15, days_in_month=30) == D("0.03")


@pytest.mark.parametrize(("days", "month_days"), [(32, 31), (-1, 30), (10, 27), (10, 32)])
def test_prorate_refuses_impossible_days(days, month_days):
    with pytest.raises(ValueError):
        prorate(D("10"), days=days, days_in_month=month_days)


def test_prorate_never_takes_a_float():
    assert isinstance(prorate(45, days=10, days_in_month=30), D)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2027, 1, 31), dt.date(2027, 2, 1)),
        (dt.date(2028, 2, 29), dt.date(2028, 3, 1)),
        (dt.date(2027, 12, 15), dt.date(2028, 1, 1)),
    ],
)
def test_next_month(day, expected):
    assert next_month(day) == expected


def test_stretches_cut_at_month_and_term_ends_in_a_leap_year():
    first = term(dt.date(2027, 2, 15), dt.date(2028, 2, 15), pk=1)
    second = term(dt.date(2028, 2, 15), dt.date(2029, 2, 15), pk=2)
    found = stretches([first, second], start=dt.date(2028, 1, 20), end=dt.date(2028, 3, 1))
    assert [(s.term.pk, s.start, s.end, s.days, s.days_in_month) for s in found] == [
        (1, dt.date(2028, 1, 20), dt.date(2028, 2, 1), 12, 31),
        (1, dt.date(2028, 2, 1), dt.date(2028, 2, 15), 14, 29),
        (2, dt.date(2028, 2, 15), dt.date(2028, 3, 1), 15, 29),
    ]


def test_stretches_leave_out_days_no_term_covers():
    only = term(dt.date(2027, 1, 31), dt.date(2028, 1, 31))
    found = stretches([only], start=dt.date(2027, 1, 1), end=dt.date(2027, 3, 1))
    assert [(s.start, s.end) for s in found] == [
        (dt.date(2027, 1, 31), dt.date(2027, 2, 1)),
        (dt.date(2027, 2, 1), dt.date(2027, 3, 1)),
    ]
    assert found[0].label == "January 31, 2027"
    assert found[1].label == "February 2027"


def test_a_whole_month_shows_list_price_discount_and_net_on_each_line():
    month = Stretch(TERM, dt.date(2027, 3, 1), dt.date(2027, 4, 1))
    charges = recurring_charges(month, LINES, {MAINTENANCE.pk: 1})
    rows = [
        (c.kind, c.quantity, c.list_rate, c.discount_percent, c.list_amount, c.discount_amount)
        + (c.amount,)
        for c in charges
    ]
    assert rows == [
        ("maintenance", D("2.00"), D("150.00"), D("25.00"), D("300.00"), D("75.00"), D("225.00")),
        ("prescheduled", D("8.00"), D("150.00"), D("25.00"), D("1200.00"), D("300.00"))
        + (D("900.00"),),
        ("hosting", D("1"), D("45.00"), D("0"), D("45.00"), D("0.00"), D("45.00")),
    ]
    assert charges[0].description == "Monthly Maintenance, March 2027: 1 visit × 2 h on-site"
    assert totals(charges) == (D("1545.00"), D("375.00"), D("1170.00"))


def test_a_partial_first_month_prorates_block_and_hosting_and_bills_only_its_visits():
    first = term(dt.date(2027, 1, 15), dt.date(2028, 1, 15))
    stretch = Stretch(first, dt.date(2027, 1, 15), dt.date(2027, 2, 1))  # 17 of 31 days
    charges = {c.kind: c for c in recurring_charges(stretch, LINES, {MAINTENANCE.pk: 1})}
    assert charges["maintenance"].amount == D("225.00")  # the one visit (Jan 20) in full
    # The prorated quantity makes the line reconcile: 8 h × 17/31 = 4.3871 h.
    assert charges["prescheduled"].quantity == D("4.3871")
    assert charges["prescheduled"].list_amount == D("658.07")  # 4.3871 × 150 = 658.065
    assert charges["prescheduled"].discount_amount == D("164.52")  # 25% of 658.07 = 164.5175
    assert charges["prescheduled"].amount == D("493.55")  # 658.07 − 164.52
    assert charges["hosting"].amount == D("24.68")
    assert "prorated: 17 of 31 days" in charges["hosting"].description


def test_leap_day_alone_is_one_twenty_ninth_of_february():
    last = term(dt.date(2027, 2, 28), dt.date(2028, 2, 29))
    stretch = Stretch(last, dt.date(2028, 2, 1), dt.date(2028, 2, 29))  # 28 of 29 days
    charges = {c.kind: c for c in recurring_charges(stretch, LINES, {})}
    assert "maintenance" not in charges  # no visit in the stretch: no line
    # 8 h × 28/29 = 7.7241 h; list 1158.62, 25% off 289.66 (289.655 half up), net 868.96
    assert charges["prescheduled"].quantity == D("7.7241")
    assert charges["prescheduled"].amount == D("868.96")
    assert charges["hosting"].amount == D("43.45")  # 45 × 28/29 = 43.448…


def test_rates_come_from_the_term_not_from_anywhere_else():
    uplifted = {
        **RATES,
        "rates": [{**rate, "price": str(D(rate["price"]) * 2)} for rate in RATES["rates"]],
    }
    month = Stretch(term(TERM.start, TERM.end, uplifted), dt.date(2027, 3, 1), dt.date(2027, 4, 1))
    charges = recurring_charges(month, [PRESCHEDULED], {})
    assert charges[0].list_rate == D("300.00") and charges[0].amount == D("1800.00")


def test_emergency_hours_are_billed_at_the_emergency_rate_without_discount():
    month = Stretch(TERM, dt.date(2027, 2, 1), dt.date(2027, 3, 1))
    charge = emergency_charge(month, EMERGENCY, D("1.75"))
    assert (charge.list_rate, charge.discount_percent, charge.amount) == (
        D("225.00"),
        D("0"),
        D("393.75"),
    )


def test_overage_beyond_the_block_is_at_the_standard_rate():
    month = Stretch(TERM, dt.date(2027, 2, 1), dt.date(2027, 3, 1))
    charge = overage_charge(month, PRESCHEDULED, used=D("10.50"), already_billed=D("0"))
    assert (charge.quantity, charge.list_rate, charge.discount_amount, charge.amount) == (
        D("2.50"),
        D("150.00"),
        D("0.00"),
        D("375.00"),
    )
    assert "standard on-site rate" in charge.description


def test_no_overage_within_the_block_and_none_billed_twice():
    month = Stretch(TERM, dt.date(2027, 2, 1), dt.date(2027, 3, 1))
    assert overage_charge(month, PRESCHEDULED, used=D("8"), already_billed=D("0")) is None
    again = overage_charge(month, PRESCHEDULED, used=D("11"), already_billed=D("2.5"))
    assert again.quantity == D("0.50")


def test_the_block_of_a_partial_month_is_prorated_too():
    first = term(dt.date(2027, 1, 15), dt.date(2028, 1, 15))
    stretch = Stretch(first, dt.date(2027, 1, 15), dt.date(2027, 2, 1))
    assert included_hours(stretch, PRESCHEDULED) == D("4.39")  # 8 × 17/31 = 4.387…
    charge = overage_charge(stretch, PRESCHEDULED, used=D("5"), already_billed=D("0"))
    assert charge.quantity == D("0.61")


# The money of one line (billing/rules.py) ---------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("maintenance", D("25.00")),
        ("prescheduled", D("12.50")),
        ("hosting", D("0")),
        ("emergency", D("0")),
        ("overage", D("0")),  # prescheduled hours beyond the block: the standard rate
    ],
)
def test_the_discount_covers_maintenance_and_the_block_only(kind, expected):
    rates = {**RATES, "discounts": {"maintenance": "25.00", "prescheduled": "12.50"}}
    assert discount_percent(rates, kind) == expected


def test_a_discounted_kind_without_a_percent_in_the_rates_has_no_discount():
    assert discount_percent({**RATES, "discounts": {"prescheduled": "25.00"}}, "maintenance") == 0


def test_an_undiscounted_line_needs_no_discounts_in_the_rates():
    assert discount_percent({"rates": RATES["rates"]}, "hosting") == 0


def test_a_line_reconciles_list_discount_and_net():
    assert line_money(D("2.00"), D("150.00"), D("25.00")) == (D("300.00"), D("75.00"), D("225.00"))
    assert net_rate(D("150.00"), D("25.00")) == D("112.50")
    assert line_money(D("1"), D("45.00"), D("0")) == (D("45.00"), D("0.00"), D("45.00"))


def test_a_line_rounds_an_exact_half_cent_up_at_each_figure():
    # 0.5 × 0.05 = 0.025 and 25% of 0.10 = 0.025: half up gives 0.03 (banker's rounding 0.02).
    assert list_amount(D("0.5"), D("0.05")) == D("0.03")
    assert line_money(D("1"), D("0.10"), D("25")) == (D("0.10"), D("0.03"), D("0.07"))
    assert net_rate(D("0.10"), D("25")) == D("0.08")  # 0.075
    assert money(D("2.345")) == D("2.35") and money(D("2.3449")) == D("2.34")


def test_money_never_takes_a_float():
    assert isinstance(money(3), D) and money("1.005") == D("1.01")


def test_a_zero_quantity_costs_nothing():
    assert line_money(D("0"), D("150.00"), D("25.00")) == (D("0.00"), D("0.00"), D("0.00"))
    assert prorated_quantity(D("8"), days=0, days_in_month=31) == D("0.0000")


@pytest.mark.parametrize("quantity", [D("2.00"), D("4.3871"), D("0.5"), D("0.0001")])
def test_a_credit_is_the_same_line_with_the_opposite_sign(quantity):
    # A reversal (an amendment removed a service already billed) rounds away from zero too.
    listed, discount, net = line_money(quantity, D("150.00"), D("25.00"))
    assert line_money(-quantity, D("150.00"), D("25.00")) == (-listed, -discount, -net)
    assert money(-listed * 3 / 7) == -money(listed * 3 / 7)


def test_totals_are_the_sums_of_the_rounded_lines_credits_included():
    def line(quantity, rate, percent):
        listed, _, net = line_money(quantity, rate, percent)
        return SimpleNamespace(list_amount=listed, amount=net)

    billed = line(D("4.3871"), D("150.00"), D("25.00"))  # 658.07 − 164.52 = 493.55
    reversal = line(D("-4.3871"), D("150.00"), D("25.00"))
    rebilled = line(D("2.0000"), D("150.00"), D("25.00"))  # 300.00 − 75.00 = 225.00
    assert totals([billed]) == (D("658.07"), D("164.52"), D("493.55"))
    assert totals([reversal, rebilled]) == (D("-358.07"), D("-89.52"), D("-268.55"))
    assert totals([]) == (D("0.00"), D("0.00"), D("0.00"))
    # Three lines of 1/3 h: each rounded (0.33 × 3 = 0.99), never the sum rounded (1.00).
    third = line(D("0.0333"), D("10.00"), D("0"))
    assert totals([third] * 3)[2] == D("0.99")


@pytest.mark.parametrize(
    ("days", "month_days", "expected"),
    [(31, 31, D("8.00")), (17, 31, D("4.39")), (1, 29, D("0.28")), (0, 30, D("0.00"))],
)
def test_the_block_of_a_partial_month_counts_its_hours_to_the_hundredth(days, month_days, expected):
    assert prorated_hours(D("8"), days=days, days_in_month=month_days) == expected


def test_prorated_hours_refuse_impossible_days():
    with pytest.raises(ValueError):
        prorated_hours(D("8"), days=32, days_in_month=31)
