"""The rates in force, as pure functions: a rate or a hosting package looked up in a rates
snapshot, the rates of a term under an amendment, two snapshots side by side, Exhibit A's and
Exhibit B's priced lines, and a term's recurring charges for one month. (The money of a line
itself — list, discount, net, rounding — is rules.py's.)

A *rates snapshot* is Exhibit A frozen as JSON (amounts as strings), taken from the rate card
and discount policies in effect when an agreement version is sent; a term locks it:

    {"rate_card": {"version": 1, "title": "Standard rates", "effective_date": "2026-01-01"},
     "discounts": {"maintenance": "25.00", "prescheduled": "25.00"},
     "rates": [{"kind": "onsite_hourly", "name": "On-site support", "unit": "hour",
                "price": "150.00"}, ...]}
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from agreements.models import ServiceKind

from .rules import ZERO, discount_percent, line_money, net_rate


class PricingError(LookupError):
    """A rate the line needs is missing from the rates in force: the line cannot be priced."""

    def __str__(self):
        return self.args[0] if self.args else "A rate is missing."


def snapshot_rate(snapshot, kind) -> Decimal:
    """The list price of an hourly rate kind in a snapshot."""
    for rate in snapshot["rates"]:
        if rate["kind"] == kind:
            return Decimal(rate["price"])
    raise PricingError(f"The rates in force have no {kind.replace('_', ' ')} rate.")


def hosting_price(snapshot, package_name) -> Decimal:
    for rate in snapshot["rates"]:
        if rate["kind"] == "hosting_monthly" and rate["name"] == package_name:
            return Decimal(rate["price"])
    raise PricingError(f"The rates in force have no hosting package “{package_name}”.")


def merged_rates(locked, snapshot):
    """The term's locked rates, plus the rates of a later version's Exhibit A that the term does
    not have (a hosting package an amendment added): what existed keeps its locked price."""
    if not snapshot:
        return locked
    known = {(rate["kind"], rate["name"]) for rate in locked["rates"]}
    added = [rate for rate in snapshot["rates"] if (rate["kind"], rate["name"]) not in known]
    discounts = {**snapshot.get("discounts", {}), **locked.get("discounts", {})}
    return {**locked, "discounts": discounts, "rates": [*locked["rates"], *added]}


@dataclass(frozen=True)
class Amount:
    """One priced line: list price, the discount, and the net after the discount."""

    label: str
    quantity: Decimal
    unit: str
    list_rate: Decimal
    discount_percent: Decimal
    net_rate: Decimal

    @property
    def list_amount(self) -> Decimal:
        return line_money(self.quantity, self.list_rate, self.discount_percent)[0]

    @property
    def discount_amount(self) -> Decimal:
        return line_money(self.quantity, self.list_rate, self.discount_percent)[1]

    @property
    def net_amount(self) -> Decimal:
        return line_money(self.quantity, self.list_rate, self.discount_percent)[2]


def agreement_rates(snapshot):
    """Exhibit A's second table: the hourly rates each service is billed at, after discounts."""
    rows = []
    for service_kind, labor_kind, label in (
        (ServiceKind.MAINTENANCE, "onsite_hourly", "Monthly Maintenance, on-site"),
        (ServiceKind.MAINTENANCE, "remote_hourly", "Monthly Maintenance, remote"),
        (ServiceKind.PRESCHEDULED, "onsite_hourly", "Prescheduled Services, on-site"),
        (ServiceKind.PRESCHEDULED, "remote_hourly", "Prescheduled Services, remote"),
        (ServiceKind.EMERGENCY, "emergency_hourly", "Emergency Support"),
    ):
        price = snapshot_rate(snapshot, labor_kind)
        percent = discount_percent(snapshot, service_kind)
        rows.append(Amount(label, Decimal(1), "hour", price, percent, net_rate(price, percent)))
    return rows


def line_amount(line, snapshot, *, visits_per_month: Decimal | None = None) -> Amount | None:
    """The monthly charge of an Exhibit B line (None for Emergency Support: billed as used)."""
    kind = line.kind
    if kind == ServiceKind.EMERGENCY:
        return None
    if kind == ServiceKind.HOSTING:
        label, unit, quantity = line.package_name, "month", Decimal(line.quantity)
        price = hosting_price(snapshot, line.package_name)
    elif kind == ServiceKind.MAINTENANCE:
        label, unit = "Monthly Maintenance", "hour"
        quantity = Decimal(line.hours_per_visit) * (visits_per_month or Decimal(1))
        price = snapshot_rate(snapshot, line.labor_rate)
    else:
        label, unit, quantity = "Prescheduled Services", "hour", Decimal(line.hours_per_month)
        price = snapshot_rate(snapshot, line.labor_rate)
    percent = discount_percent(snapshot, kind)
    return Amount(label, quantity, unit, price, percent, net_rate(price, percent))


def monthly_recurring(locked_rates, snapshot, lines: Iterable) -> Decimal:
    """A term's recurring charges for one month at its locked rates merged with its version's
    Exhibit A (a maintenance line counts one visit a month).

    An amendment's added package is priced from its own Exhibit A (merged_rates); a line that
    cannot be priced at all counts nothing here (the monthly run records it as a problem).
    Terms store the result (Term.monthly_amount) for the staff home's revenue series."""
    rates = merged_rates(locked_rates, snapshot)
    total = ZERO
    for line in lines:
        try:
            amount = line_amount(line, rates)
        except PricingError:
            continue
        total += amount.net_amount if amount else ZERO
    return total


@dataclass(frozen=True)
class RateChange:
    name: str
    unit: str
    old: Decimal | None
    new: Decimal | None

    @property
    def difference(self) -> Decimal | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old


def rate_changes(old_snapshot, new_snapshot):
    """Each rate of two snapshots side by side (by kind and name), in the old card's order."""
    old = {(r["kind"], r["name"]): r for r in old_snapshot["rates"]}
    new = {(r["kind"], r["name"]): r for r in new_snapshot["rates"]}
    keys = list(old) + [key for key in new if key not in old]
    return [
        RateChange(
            name=(old.get(key) or new[key])["name"],
            unit=(old.get(key) or new[key])["unit"],
            old=Decimal(old[key]["price"]) if key in old else None,
            new=Decimal(new[key]["price"]) if key in new else None,
        )
        for key in keys
    ]
