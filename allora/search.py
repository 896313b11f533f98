"""The staff's global search (the box in the menu, ``/search/?q=…``): agreements by number,
customers by legal name, contacts by name or email, invoices by number.

One query per group, each reading at most ``PER_GROUP + 1`` rows (the extra one only says
"more"), so the page costs the same whatever the size of the tables. Numbers are matched on
their start (``CA-2026-00`` …), which the unique index on the number serves on PostgreSQL
(numbers are stored upper-case, so a case-sensitive prefix finds them through the index's
pattern ops); a query of digits also matches the end of the number (``0042`` finds
CA-2026-0042), the sequence part staff read out. An exact number comes first. Names and emails
are "contains" (no index helps; the customers and contacts tables are small next to visits)."""

from dataclasses import dataclass, field

from django.db.models import Case, IntegerField, Q, Value, When
from django.urls import reverse
from django.utils.http import urlencode

from agreements.models import Agreement, Contact, Customer
from billing.models import Invoice

MIN_LENGTH = 2
MAX_LENGTH = 100
PER_GROUP = 10
# The agreement and invoice lists' number filters take this many characters.
NUMBER_FILTER_MAX = 20


@dataclass
class Group:
    """One kind of result: up to ``PER_GROUP`` objects, whether there are more, and the
    filtered list that shows them all (None: no such list)."""

    title: str
    kind: str
    items: list = field(default_factory=list)
    more: bool = False
    see_all: str | None = None


def _number_matches(text: str):
    """Numbers starting with the text (or, for digits, ending with them), the exact one first."""
    text = text.upper()
    match = Q(number__startswith=text)
    if text.isdigit():
        match |= Q(number__endswith=text)
    rank = Case(When(number=text, then=Value(0)), default=Value(1), output_field=IntegerField())
    return match, rank


def _group(title, kind, queryset, see_all=None) -> Group:
    found = list(queryset[: PER_GROUP + 1])
    return Group(title, kind, found[:PER_GROUP], len(found) > PER_GROUP, see_all)


def _list_url(name, **params) -> str:
    return f"{reverse(name)}?{urlencode(params)}"


def search(text: str) -> list[Group]:
    """What the staff search finds for ``text`` (already checked: ``MIN_LENGTH`` to
    ``MAX_LENGTH`` characters), grouped: agreements, customers, contacts, invoices."""
    match, rank = _number_matches(text)
    agreements = (
        Agreement.objects.filter(match)
        .select_related("customer")
        .annotate(rank=rank)
        .order_by("rank", "number", "pk")
    )
    invoices = (
        Invoice.objects.filter(match)
        .select_related("customer")
        .annotate(rank=rank)
        .order_by("rank", "-number", "pk")
    )
    customers = Customer.objects.filter(legal_name__icontains=text).order_by("legal_name", "pk")
    contacts = (
        Contact.objects.filter(Q(name__icontains=text) | Q(email__icontains=text))
        .select_related("customer")
        .order_by("name", "pk")
    )
    by_number = len(text) <= NUMBER_FILTER_MAX
    return [
        _group(
            "Agreements",
            "agreement",
            agreements,
            _list_url("agreements:agreement_list", number=text) if by_number else None,
        ),
        _group("Customers", "customer", customers, _list_url("agreements:customer_list", q=text)),
        # No contact list: the first ones are shown, a longer text narrows them.
        _group("Contacts", "contact", contacts),
        _group(
            "Invoices",
            "invoice",
            invoices,
            _list_url("billing:invoice_list", number=text) if by_number else None,
        ),
    ]
