"""What an agreement document shows: the Agreement, Exhibit A, Exhibit B and signatures.

One context feeds the browser page and the PDF, so both always say the same thing.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import caches
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from allora.models import CompanyProfile
from allora.validation import date_in_range
from billing.pricing import agreement_rates, line_amount
from billing.rules import money
from billing.services import rates_snapshot
from scheduling import recurrence

from . import rules
from .models import AgreementVersion, ServiceKind, Signature, prefetched


@dataclass(frozen=True)
class Party:
    """A party of the agreement as its document names it."""

    legal_name: str
    address: str

    def __str__(self):
        return self.legal_name


# How versions sent before Allora's details were recorded name it (their documents and digests
# stay exactly as they were signed).
LEGACY_ALLORA = {"legal_name": "Allora", "address": "Raleigh, NC"}


def customer_record(customer) -> dict:
    return {"legal_name": customer.legal_name, "address": customer.address}


def parties_record(customer, *, company=None) -> dict:
    """The parties' names and addresses as a version records them when it is sent: the customer
    and Allora (its details from *Settings → Company*; pass ``company`` when recording many)."""
    company = company or CompanyProfile.current()
    return {"customer": customer_record(customer), "allora": company.party_record()}


def version_parties(version: AgreementVersion) -> dict:
    """The parties a version names: as recorded when it was sent, or (a draft) as they are now."""
    parties = version.parties or parties_record(version.agreement.customer)
    return {"allora": LEGACY_ALLORA, **parties}


def visits_per_year(line, *, start: dt.date, tz: str) -> int:
    """How many visits a scheduled line has in the year from ``start``."""
    return len(
        recurrence.occurrences(
            line.rrule,
            start_time=line.start_time,
            duration_minutes=line.duration_minutes,
            tz=tz,
            start=start,
            end=rules.term_end(start),
        )
    )


def version_lines(version) -> list:
    """The version's service lines with their response tier, in Exhibit B order (those the page
    prefetched, else one query)."""
    lines = prefetched(version, "lines")
    return list(version.lines.select_related("response_tier")) if lines is None else lines


def exhibit_b(version, snapshot, *, anchor: dt.date):
    """[(line, Amount or None)] and the monthly total, for the version's service lines."""
    rows, total = [], Decimal("0.00")
    tz = version.agreement.time_zone
    for line in version_lines(version):
        per_month = None
        if line.kind == ServiceKind.MAINTENANCE and line.rrule:
            per_month = Decimal(visits_per_year(line, start=anchor, tz=tz)) / 12
        amount = line_amount(line, snapshot, visits_per_month=per_month)
        if amount is not None:
            total += amount.net_amount
        rows.append((line, amount))
    return rows, money(total)


def document_context(version: AgreementVersion, *, today: dt.date):
    """Everything the agreement templates render, for a draft (live rates) or a sent version.
    What the caller prefetched (the version's lines and signatures, the agreement's terms) is
    not read again; ``snapshot`` is Exhibit A as used (for the draft's other panels)."""
    agreement = version.agreement
    parties = version_parties(version)
    snapshot = version.rates_snapshot or rates_snapshot(on=today)
    anchor = version.start_date or today
    if not date_in_range(anchor):  # old or imported data; the page says the date is wrong
        anchor = today
    lines, monthly_total = exhibit_b(version, snapshot, anchor=anchor)
    signed = prefetched(version, "signatures")
    if signed is None:
        signed = list(version.signatures.select_related("user", "contact"))
    signatures = {s.party: s for s in signed}
    terms = prefetched(agreement, "terms")
    if terms is None:
        first_term = agreement.terms.order_by("number").first()
    else:
        first_term = min(terms, key=lambda term: term.number, default=None)
    return {
        "version": version,
        "agreement": agreement,
        # The customer as the version names it (sent or signed: as recorded when it was sent).
        "customer": Party(**parties["customer"]),
        "allora_party": parties["allora"],
        "terms": version.terms_template,
        "sections": version.terms_template.sections(),
        "rate_card": snapshot["rate_card"],
        "standard_rates": [{**rate, "price": Decimal(rate["price"])} for rate in snapshot["rates"]],
        "agreement_rates": agreement_rates(snapshot),
        "lines": lines,
        "monthly_total": monthly_total,
        "customer_signature": signatures.get(Signature.Party.CUSTOMER),
        "allora_signature": signatures.get(Signature.Party.ALLORA),
        "term": first_term,
        "is_live_rates": version.rates_snapshot is None,
        "snapshot": snapshot,
    }


DOCUMENT_TEMPLATE = "agreements/document/_document.html"


def document_html(context: dict) -> SafeString:
    """The agreement document (`DOCUMENT_TEMPLATE`) as ``context`` renders it: `document_context`
    with, on the portal, the term in force as ``term``. A version that was sent never changes
    what it says, so its document is rendered once for each state of what the page prints
    around its content (its signatures, its term) and kept in this process's ``documents``
    cache (issue 14: the template was 40% of the agreement page). A draft is rendered each
    time: it changes with every edit, and its rates are today's."""
    key = _document_key(context)
    cache = caches["documents"]
    html = cache.get(key) if key else None
    if html is None:
        html = render_to_string(DOCUMENT_TEMPLATE, context)
        if key:
            cache.set(key, html, timeout=None)
    return mark_safe(html)  # noqa: S308 - the template's own output, escaped as it rendered


def _document_key(context: dict) -> str | None:
    """What a sent version's document is rendered from, as a cache key: what the parties
    signed (`content_digest`, which the version's id alone would not prove unchanged), the
    prices worked out from it, the title of its terms, its time zone, the signatures and the
    term it prints. None for a draft."""
    version = context["version"]
    if version.is_draft or context["is_live_rates"]:
        return None
    lines = [line for line, _ in context["lines"]]
    signatures = (context["customer_signature"], context["allora_signature"])
    term = context["term"]
    state = (
        version.pk,
        version.status,
        content_digest(version, lines=lines),
        [amount for _, amount in context["lines"]],
        context["monthly_total"],
        version.terms_template.title,
        version.agreement.time_zone,
        [(sig.pk, sig.signed_at) if sig else None for sig in signatures],
        (term.pk, term.number, term.start, term.end) if term else None,
    )
    return "agreement-document:" + hashlib.sha256(repr(state).encode()).hexdigest()


def content_digest(version: AgreementVersion, *, lines=None) -> str:
    """SHA-256 of the canonical content of a version: what the parties sign. ``lines``: the
    version's service lines already in memory (with their response tiers), in place of reading
    them; the agreement, terms template and parties are read from the version as they are (an
    import has them in memory). Either way the digest is the same."""
    if lines is None:
        lines = version.lines.select_related("response_tier").order_by("position", "id")
    else:
        lines = sorted(lines, key=lambda line: (line.position, line.pk or 0))
    parties = version.parties or parties_record(version.agreement.customer)
    content = {
        "agreement": version.agreement.number,
        "version": version.number,
        "customer": parties["customer"],
        "terms": {"version": version.terms_template.version, "body": version.terms_template.body},
        "billing_day": version.billing_day,
        "payment_terms_days": version.payment_terms_days,
        "start_date": version.start_date.isoformat() if version.start_date else None,
        "rates": version.rates_snapshot,
        "lines": [_line_content(line) for line in lines],
    }
    if "allora" in parties:  # recorded since Allora's details became settings
        content["allora"] = parties["allora"]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _line_content(line) -> dict:
    """A service line as the content digest reads it."""
    return {
        "kind": line.kind,
        "notes": line.notes,
        "labor_rate": line.labor_rate,
        "hours_per_visit": str(line.hours_per_visit) if line.hours_per_visit else None,
        "hours_per_month": str(line.hours_per_month) if line.hours_per_month else None,
        "checklist": line.checklist,
        "rrule": line.rrule,
        "start_time": line.start_time.isoformat() if line.start_time else None,
        "duration_minutes": line.duration_minutes,
        "response_tier": line.response_tier.name if line.response_tier else None,
        "package_name": line.package_name,
        "quantity": line.quantity,
    }
