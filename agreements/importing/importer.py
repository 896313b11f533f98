"""The import itself: check every row of a file (no writes), then write it all in one
transaction, set-based: customers and contacts, agreements numbered, version 1 recorded as
signed on paper with its service lines and PDF, the terms up to today (``rules.term_dates``)
with their rate changes as finalized reviews, and the current term's visits planned. A dry run
(the admin page's preview, the API's ``dry_run``) does the same and rolls it back.

A big file streams (issue 14): the check reads the customers, then the agreements, one record
at a time (``reading.JsonSource``); of each agreement it keeps in memory only what the checks
across records need (``_Ref``: reference, number, customer, signer) and spools the checked rows
to a temporary file, which the write reads back 500 agreements at a time."""

import datetime as dt
import hashlib
import io
import pickle
import tempfile
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from allora.models import CompanyProfile
from billing.accounts import billing_date, first_month
from billing.charges import next_month
from scheduling.models import Visit
from scheduling.planning import plan_terms

from .. import rules
from ..document import content_digest, parties_record
from ..forms import ServiceLineForm
from ..models import (
    Agreement,
    AgreementEvent,
    AgreementVersion,
    Contact,
    Customer,
    RateReview,
    ResponseTier,
    ServiceKind,
    ServiceLine,
    Term,
    TermsTemplate,
)
from ..services import next_agreement_number
from .reading import Document, open_source, size_problem
from .report import ImportedAgreement, ImportReport
from .rows import (
    AgreementRow,
    ContactRow,
    CustomerRow,
    RateChangeRow,
    ServiceRow,
    check_billed_through,
    check_pdf,
    check_rates,
    check_service,
    validate_row,
)

# Billing after an import ---------------------------------------------------------------------


def end_of_month(day: dt.date) -> dt.date:
    return next_month(day) - dt.timedelta(days=1)


def first_invoice(*, billed_through: dt.date, first_start: dt.date, billing_day: int):
    """(period, issued_on) of the first invoice this system issues for an imported agreement:
    the month after ``billed_through`` (the first term's month when nothing was billed before
    it starts), issued on that month's billing day, as the monthly run does."""
    period = first_month(last_period=None, billed_through=billed_through, first_start=first_start)
    return period, billing_date(period, billing_day=billing_day, first_start=first_start)


# Agreements written (versions, lines, terms, events, visits) and let go of at a time.
WRITE_CHUNK = 500


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction, to roll it back."""


@dataclass
class _Customer:
    row: CustomerRow
    line: int
    contacts: list  # [(ContactRow, line)]
    instance: Customer | None = None
    adopt: bool = False  # an existing customer (same legal name) that gets the reference
    created: bool = False  # by this import


@dataclass
class _Agreement:
    row: AgreementRow
    line: int
    customer_ref: str
    rates: dict
    services: list  # [(ServiceRow, line)]
    changes: dict  # term -> (RateChangeRow, rates)
    pdf: bytes | None
    billed_through: dt.date | None = None
    # Set while writing:
    customer: Customer | None = None
    terms_template: TermsTemplate | None = None
    agreement: Agreement | None = None
    version: AgreementVersion | None = None
    lines: list = field(default_factory=list)  # its service lines
    terms: list = field(default_factory=list)
    imported: ImportedAgreement | None = None  # what the report says, once written

    def ref(self) -> "_Ref":
        row = self.row
        return _Ref(
            row.external_ref,
            row.number,
            self.customer_ref,
            row.signer_email,
            self.line,
            row.signed_on.year,
            self.billed_through,
        )

    def release(self):
        """Let go of what was written (the model instances) and of what it was written from."""
        self.agreement = self.version = self.pdf = self.rates = None
        self.terms, self.lines, self.services, self.changes = [], [], [], {}


@dataclass(slots=True)
class _Ref:
    """What the checks across records (references, numbers, signers) and the numbering need of
    a checked agreement; the rest of it waits in the spool."""

    external_ref: str
    number: str | None
    customer_ref: str
    signer_email: str | None
    line: int
    year: int  # of the signature, for its number
    billed_through: dt.date | None
    existing: Agreement | None = None
    pk: int | None = None  # once written
    time_zone: str = ""
    imported: ImportedAgreement | None = None


def import_bytes(
    data: bytes, *, name: str, by, today: dt.date, dry_run=False, base_dir=None, progress=None
):
    """Import a JSON or CSV file's content (see the module's docstring); returns the report.
    All or nothing: with any bad row, or ``dry_run``, nothing is written. ``progress(done,
    total)`` is told how many records are checked (before the transaction, so another
    connection sees it)."""
    return import_file(
        lambda: io.BytesIO(data),
        name=name,
        size=len(data),
        by=by,
        today=today,
        dry_run=dry_run,
        base_dir=base_dir,
        progress=progress,
    )


def import_path(path, *, by, today, dry_run=False):
    """Import a file from disk; a ``pdf_path`` is read relative to the file's folder. A file
    over the size limit is refused before it is read."""
    path = Path(path)
    return import_file(
        lambda: path.open("rb"),
        name=path.name,
        size=path.stat().st_size,
        by=by,
        today=today,
        dry_run=dry_run,
        base_dir=path.parent,
    )


def import_file(open_file, *, name, size, by, today, dry_run=False, base_dir=None, progress=None):
    """Import a file that ``open_file()`` opens as a binary stream (each time the import reads
    it: the check reads the customers, then the agreements; the write reads back what the
    check spooled). See ``import_bytes``."""
    report = ImportReport(dry_run=dry_run)
    if problem := size_problem(size):
        report.error(0, "file", problem)
        return report
    source = open_source(open_file, name=name, report=report)
    if source is None:
        return report
    with closing(source), tempfile.TemporaryFile() as spool:
        importer = _Importer(source, report, by=by, today=today, base_dir=base_dir, spool=spool)
        importer.check(progress=progress or _no_progress)
        if not report.ok:
            return report
        try:
            with transaction.atomic():
                importer.write(store_pdfs=not dry_run)
                if dry_run:
                    raise _DryRun
                transaction.on_commit(_price_new_terms)
        except _DryRun:
            pass
        except IntegrityError:
            # Someone created the same agreement number or reference at this very moment.
            report.agreements.clear()
            report.error(0, "file", "Another change collided with this import; import it again.")
    return report


def _price_new_terms():
    """The imported terms' monthly amounts (the staff home's revenue) are stored by the worker
    right after the import, not at the nightly fill."""
    from billing.tasks import fill_monthly_amounts

    fill_monthly_amounts.delay()


def _no_progress(done, total):
    pass


class _Importer:
    def __init__(self, source, report, *, by, today, base_dir, spool):
        self.source = source
        self.doc = Document(None, {})  # the lines of the record being checked
        self.spool = spool  # the checked agreements, pickled one after the other
        self.report = report
        self.by = by
        self.today = today
        self.base_dir = Path(base_dir).resolve() if base_dir else None
        self.customers: dict[str, _Customer] = {}
        self.agreements: list[_Ref] = []

    def error(self, line, field_name, reason):
        self.report.error(line, field_name, reason)

    # Checks (no writes) ---------------------------------------------------------------

    def check(self, *, progress):
        """Read the customers, then the agreements, checking each record; the agreements
        checked are spooled (``_Agreement``) and kept as a ``_Ref``."""
        done = 0
        for raw, doc in self.source.records("customers", quick=True):
            self._quick(self._check_customer, raw, doc, undo=self._forget_customer)
            done += 1
        if self.source.malformed:
            return
        total = done + self.source.counts.get("agreements", 0)  # the file was read through
        step = max(100, total // 100)  # about a hundred updates, whatever the size
        progress(done, total)
        self._match_customers()
        self.tiers = {tier.name: tier for tier in ResponseTier.objects.all()}
        self.templates = {
            t.version: t for t in TermsTemplate.objects.filter(published_at__isnull=False)
        }
        refs = set()
        for raw, doc in self.source.records("agreements", quick=True):
            done += 1
            if done % step == 0:
                progress(done, total)
            agreement = self._quick(self._check_agreement, raw, doc)
            if agreement is None:
                continue
            if agreement.row.external_ref in refs:
                self.error(agreement.line, "external_ref", "appears twice in this file")
                continue
            refs.add(agreement.row.external_ref)
            self.agreements.append(agreement.ref())
            if self.report.ok:  # else nothing is written: no need to keep it
                pickle.dump(agreement, self.spool, pickle.HIGHEST_PROTOCOL)
        self.doc = Document(None, {})
        if self.source.malformed:
            return
        self._match_agreements()
        progress(total, total)

    def _quick(self, check, raw, doc, *, undo=None):
        """``check(raw)`` of a record parsed fast (``reading.Quick``), on a report of its own;
        when it has errors, ``undo(what it returned)`` and they are reported from the record
        checked again, parsed with the line of each part (a document with every line already:
        as it is)."""
        report, self.report = self.report, ImportReport()
        self.doc = doc
        try:
            result = check(raw)
            quick_ok = self.report.ok
        finally:
            self.report = report
        if quick_ok:
            return result
        if undo is not None:
            undo(result)
        again = doc.exact()
        if again is not None:
            raw, self.doc = again
        return check(raw)

    def _forget_customer(self, ref):
        """A customer kept by a quick check that had errors (it is checked again)."""
        if ref is not None:
            del self.customers[ref]

    def _check_customer(self, raw):
        """Check a customer record and keep it (returns its reference) unless its row is bad
        or its reference is taken; its contacts' errors are reported either way."""
        line = self.doc.line(raw)
        row = validate_row(CustomerRow, raw, line=line, report=self.report)
        raw_contacts = (
            row.contacts if row else (raw.get("contacts") if isinstance(raw, dict) else [])
        )
        contacts, emails = [], set()
        for raw_contact in raw_contacts if isinstance(raw_contacts, list) else []:
            contact_line = self.doc.line(raw_contact, line)
            contact = validate_row(ContactRow, raw_contact, line=contact_line, report=self.report)
            if contact is None:
                continue
            if contact.email in emails:
                self.error(contact_line, "email", "appears twice for this customer")
                continue
            emails.add(contact.email)
            contacts.append((contact, contact_line))
        if row is None:
            return None
        if row.external_ref in self.customers:
            self.error(line, "external_ref", "appears twice in this file")
            return None
        self.customers[row.external_ref] = _Customer(
            row.model_copy(update={"contacts": []}), line, contacts
        )
        return row.external_ref

    def _match_customers(self):
        """Existing customers: by reference (left as they are), else by legal name (adopted)."""
        refs = list(self.customers)
        by_ref = {
            c.external_ref: c
            for chunk in _chunks(refs)
            for c in Customer.objects.filter(external_ref__in=chunk)
        }
        names = [
            c.row.legal_name for c in self.customers.values() if c.row.external_ref not in by_ref
        ]
        by_name = {
            c.legal_name: c
            for chunk in _chunks(names)
            for c in Customer.objects.filter(legal_name__in=chunk)
        }
        seen_names = {}
        for ref, item in self.customers.items():
            name = item.row.legal_name
            if ref in by_ref:
                existing = by_ref[ref]
                if _same_name(existing.legal_name, name):
                    item.instance = existing
                else:
                    # Never attach a file's agreements to somebody else's customer.
                    self.error(
                        item.line,
                        "external_ref",
                        f"{ref} is already the reference of another customer "
                        f"({existing.legal_name})",
                    )
                continue
            if name in seen_names:
                self.error(
                    item.line, "legal_name", f"appears twice in this file ({seen_names[name]})"
                )
                continue
            seen_names[name] = ref
            existing = by_name.get(name)
            if existing is not None and existing.external_ref:
                self.error(
                    item.line,
                    "legal_name",
                    f"already belongs to the customer with external_ref {existing.external_ref!r}",
                )
            elif existing is not None:
                item.instance, item.adopt = existing, True
        existing_ids = [item.instance.pk for item in self.customers.values() if item.instance]
        known = {
            (customer_id, email.lower())
            for chunk in _chunks(existing_ids)
            for customer_id, email in Contact.objects.filter(customer_id__in=chunk).values_list(
                "customer_id", "email"
            )
        }
        for item in self.customers.values():
            if item.instance:  # add only the contacts it does not have yet
                item.contacts = [
                    (c, line)
                    for c, line in item.contacts
                    if (item.instance.pk, c.email) not in known
                ]

    def _check_agreement(self, raw):
        line = self.doc.line(raw)
        problems = len(self.report.errors)
        row = validate_row(AgreementRow, raw, line=line, report=self.report)
        # The nested rates and services are checked even when the row itself is not valid,
        # so one pass reports every bad line.
        raw = raw if isinstance(raw, dict) else {}
        signed_on = row.signed_on if row else self.today
        customer_ref = row.customer_ref if row else str(raw.get("customer_ref"))
        customer = self.customers.get(customer_ref)
        if row is not None:
            if row.signed_on > self.today:
                self.error(line, "signed_on", f"is after today ({self.today.isoformat()})")
            if row.billed_through is not None:
                check_billed_through(row.billed_through, line, today=self.today, report=self.report)
            if customer is None and not Customer.objects.filter(external_ref=customer_ref).exists():
                self.error(line, "customer_ref", f"names no customer: {customer_ref!r}")
            if row.terms_version is not None and row.terms_version not in self.templates:
                self.error(line, "terms_version", f"no published terms version {row.terms_version}")
            if row.terms_version is None and not self.templates:
                self.error(line, "terms_version", "no published terms and conditions exist yet")
        rates = None
        if "rates" in raw:
            rates = self._check_rates(raw["rates"], line=line, signed_on=signed_on)
        changes = {}
        raw_changes = raw.get("rate_changes")
        for raw_change in raw_changes if isinstance(raw_changes, list) else []:
            change_line = self.doc.line(raw_change, line)
            change = validate_row(RateChangeRow, raw_change, line=change_line, report=self.report)
            if change is None:
                continue
            if change.term in changes:
                self.error(change_line, "term", "has two rate changes")
                continue
            if change.method == RateReview.Method.UPLIFT and change.uplift_percent is None:
                self.error(change_line, "uplift_percent", "is required for method uplift")
            change_rates = self._check_rates(change.rates, line=change_line, signed_on=signed_on)
            changes[change.term] = (change, change_rates)
        if row is not None:
            start = rules.first_term_start(signed_on=row.signed_on, requested_start=row.start_date)
            next_term = len(rules.term_dates(start, through=self.today)) + 1
            for term in sorted(changes):
                if term > next_term:
                    self.error(
                        line, "rate_changes", f"term {term} is past the next term ({next_term})"
                    )
        time_zone = (
            customer.row.time_zone
            if customer
            else Customer.objects.filter(external_ref=customer_ref)
            .values_list("time_zone", flat=True)
            .first()
        )
        services = []
        raw_services = raw.get("services")
        for position, raw_service in enumerate(
            raw_services if isinstance(raw_services, list) else []
        ):
            service_line = self.doc.line(raw_service, line)
            service = validate_row(ServiceRow, raw_service, line=service_line, report=self.report)
            if service is not None:
                service = check_service(
                    service,
                    report=self.report,
                    tiers=self.tiers,
                    line=service_line,
                    rates=[rates, *(r for _c, r in changes.values())],
                    time_zone=time_zone or "America/New_York",
                    start=signed_on,
                )
                services.append((service, service_line, position))
        pdf = check_pdf(row, line, report=self.report, base_dir=self.base_dir) if row else None
        if len(self.report.errors) > problems:
            return None
        billed_through = row.billed_through or end_of_month(self.today)
        # The raw nested records are checked and kept above; let go of the file's copies.
        row = row.model_copy(
            update={"rates": None, "rate_changes": [], "services": [], "pdf_base64": None}
        )
        return _Agreement(row, line, customer_ref, rates, services, changes, pdf, billed_through)

    def _check_rates(self, raw, *, line, signed_on):
        return check_rates(
            raw, doc=self.doc, report=self.report, line=line, where="rates", signed_on=signed_on
        )

    def _owners(self):
        """The id of the customer each agreement of the file belongs to (None: a customer the
        import creates)."""
        in_db = [a.customer_ref for a in self.agreements if a.customer_ref not in self.customers]
        owners = {
            ref: pk
            for chunk in _chunks(set(in_db))
            for ref, pk in Customer.objects.filter(external_ref__in=chunk).values_list(
                "external_ref", "pk"
            )
        }
        for ref, customer in self.customers.items():
            owners[ref] = customer.instance.pk if customer.instance else None
        return owners

    def _match_agreements(self):
        """Agreements already imported (same reference, or same number and no reference) of
        the same customer are left as they are. A reference or number of another customer's
        agreement, or a number in use by another agreement, is an error on the row: never a
        takeover."""
        agreements = Agreement.objects.select_related("customer")
        owners = self._owners()
        refs = [a.external_ref for a in self.agreements]
        by_ref = {
            a.external_ref: a
            for chunk in _chunks(refs)
            for a in agreements.filter(external_ref__in=chunk)
        }
        numbers = [a.number for a in self.agreements if a.number]
        by_number = {
            a.number: a for chunk in _chunks(numbers) for a in agreements.filter(number__in=chunk)
        }
        seen = {}
        for item in self.agreements:
            ref, number = item.external_ref, item.number
            owner = owners.get(item.customer_ref)
            item.existing = by_ref.get(ref)
            if item.existing is not None and item.existing.customer_id != owner:
                self.error(
                    item.line,
                    "external_ref",
                    f"{ref} is already the reference of agreement {item.existing.number} of "
                    f"another customer ({item.existing.customer.legal_name})",
                )
                item.existing = None
                continue
            if item.existing is None and number in by_number:
                other = by_number[number]
                if other.customer_id != owner:
                    self.error(
                        item.line,
                        "number",
                        f"{number} is the number of an agreement of another customer "
                        f"({other.customer.legal_name}): leave number out to number this one "
                        "anew",
                    )
                elif other.external_ref is None and other.is_live:
                    item.existing = other
                else:
                    self.error(item.line, "number", f"{number} is already another agreement's")
            if number and number in seen:
                self.error(item.line, "number", f"appears twice in this file ({seen[number]})")
            seen[number] = ref
            if item.existing is None and item.signer_email:
                customer = self.customers.get(item.customer_ref)
                emails = {c.email for c, _line in customer.contacts} if customer else set()
                owner = customer.instance if customer else None
                if owner is None and customer is None:
                    owner = Customer.objects.filter(external_ref=item.customer_ref).first()
                if item.signer_email.lower() not in emails and not (
                    owner and owner.contacts.filter(email__iexact=item.signer_email).exists()
                ):
                    self.error(item.line, "signer_email", "is not a contact of the customer")

    # Writes (inside the transaction) -------------------------------------------------
    # Set-based: a few bulk inserts per chunk of agreements; no query per agreement, term, line
    # or visit (the content digest is computed from the lines in memory).

    def write(self, *, store_pdfs):
        """Customers and agreements (numbered) for the whole file, then the rest chunk by
        chunk as the spool gives the checked agreements back, each chunk's model instances let
        go once written: memory stays that of one chunk of versions, terms and visits,
        whatever the size of the file."""
        report = self.report
        customers = self._write_customers()
        new = [item for item in self.agreements if item.existing is None]
        self._write_agreements(new, customers)
        latest = max(self.templates.values(), key=lambda t: t.version, default=None)
        self.spool.seek(0)
        chunk: list[tuple[_Ref, _Agreement]] = []
        for position, ref in enumerate(self.agreements, 1):
            # The spool is this import's own temporary file, written by ``check``.
            item = pickle.load(self.spool)  # noqa: S301
            if ref.existing is None:
                item.customer = customers[ref.customer_ref]
                item.agreement = self._agreement(ref, item.customer)
                item.terms_template = self.templates.get(item.row.terms_version) or latest
                chunk.append((ref, item))
            if len(chunk) == WRITE_CHUNK or (chunk and position == len(self.agreements)):
                items = [item for _ref, item in chunk]
                self._write_versions(items, store_pdfs=store_pdfs)
                self._write_terms(items)
                self._write_events_and_visits(items)
                for ref, item in chunk:
                    ref.imported = item.imported
                chunk = []
        existing = self._existing_terms()
        for item in self.agreements:
            if item.existing is None:
                report.agreements.append(item.imported)
                continue
            term = existing.get(item.existing.pk)
            report.agreements.append(
                ImportedAgreement(
                    external_ref=item.external_ref,
                    number=item.existing.number,
                    customer=item.existing.customer.legal_name,
                    terms=term.number if term else 0,
                    current_term_start=term.start if term else None,
                    current_term_end=term.end if term else None,
                    visits_planned=0,
                    existing=True,
                )
            )
        report.agreements_created = len(new)
        report.agreements_existing = len(self.agreements) - len(new)

    def _write_events_and_visits(self, items):
        """The history's "imported" event and the current term's visits of each agreement;
        what the report says of it, after which its written rows are let go."""
        first_invoices = {
            id(item): first_invoice(
                billed_through=item.billed_through,
                first_start=item.terms[0].start,
                billing_day=item.row.billing_day,
            )
            for item in items
        }
        AgreementEvent.objects.bulk_create(
            (
                AgreementEvent(
                    agreement=item.agreement,
                    kind=AgreementEvent.Kind.IMPORTED,
                    actor=self.by,
                    message=(
                        f"Imported (reference {item.row.external_ref}), signed on "
                        f"{item.row.signed_on:%B %-d, %Y}: term {item.terms[-1].number} runs "
                        f"from {item.terms[-1].start:%B %-d, %Y} to "
                        f"{item.terms[-1].last_day:%B %-d, %Y}. Billed by the previous system "
                        f"through {item.billed_through:%B %-d, %Y}; first invoice here: "
                        f"{first_invoices[id(item)][0]:%B %Y}, issued "
                        f"{first_invoices[id(item)][1]:%B %-d, %Y}"
                    )[:500],
                )
                for item in items
            ),
            batch_size=500,
        )
        current = [item.terms[-1] for item in items]
        # The terms and lines just written, as they are in memory: not read again.
        plan_terms(current, today=self.today, lines=[line for i in items for line in i.lines])
        visits = dict(
            Visit.objects.filter(term_id__in=[term.pk for term in current])
            .values("term_id")
            .annotate(count=Count("id"))
            .values_list("term_id", "count")
        )
        for item in items:
            term = item.terms[-1]
            period, issued_on = first_invoices[id(item)]
            item.imported = ImportedAgreement(
                external_ref=item.row.external_ref,
                number=item.agreement.number,
                customer=item.customer.legal_name,
                terms=len(item.terms),
                current_term_start=term.start,
                current_term_end=term.end,
                visits_planned=visits.get(term.pk, 0),
                billed_through=item.billed_through,
                first_invoice_period=period,
                first_invoice_on=issued_on,
            )
            item.release()

    def _existing_terms(self):
        """The newest term of each agreement that was already imported; adopted ones (matched
        by number) get their reference."""
        old = [(item, item.existing) for item in self.agreements if item.existing is not None]
        for item, existing in old:
            if existing.external_ref is None:
                Agreement.objects.filter(pk=existing.pk).update(external_ref=item.external_ref)
        latest = {}
        for chunk in _chunks([existing.pk for _item, existing in old]):
            for term in Term.objects.filter(agreement_id__in=chunk).order_by("number"):
                latest[term.agreement_id] = term
        return latest

    def _write_customers(self):
        """The file's customers and contacts, 500 customers at a time (their history too);
        returns the customer of each reference the agreements name."""
        report = self.report
        for chunk in _chunks(self.customers.values(), WRITE_CHUNK):
            self._write_customer_chunk(chunk)
        found = {ref: item.instance for ref, item in self.customers.items()}
        report.customers_existing = sum(1 for item in self.customers.values() if not item.created)
        missing = list({a.customer_ref for a in self.agreements} - set(found))
        for chunk in _chunks(missing):
            found.update(
                {c.external_ref: c for c in Customer.objects.filter(external_ref__in=chunk)}
            )
        return found

    def _write_customer_chunk(self, items):
        report = self.report
        new = []
        for item in items:
            if item.instance is None:
                fields = item.row.model_dump(exclude={"contacts"})
                item.instance = Customer(**fields)
                item.created = True
                new.append(item.instance)
            elif item.adopt:
                item.instance.external_ref = item.row.external_ref
                item.instance.save(update_fields=["external_ref", "updated_at"])
        bulk_create_with_history(new, Customer, batch_size=500, default_user=self.by)
        if new and new[0].pk is None:  # a backend that does not return ids
            ids = dict(
                Customer.objects.filter(external_ref__in=[c.external_ref for c in new]).values_list(
                    "external_ref", "pk"
                )
            )
            for customer in new:
                customer.pk = ids[customer.external_ref]
        report.customers_created += len(new)
        contacts = [
            Contact(customer=item.instance, **contact.model_dump())
            for item in items
            for contact, _line in item.contacts
        ]
        bulk_create_with_history(contacts, Contact, batch_size=500, default_user=self.by)
        report.contacts_created += len(contacts)
        for item in items:
            item.contacts = []  # written: only the customer is needed any more

    def _write_agreements(self, items, customers):
        """Agreements with the file's numbers first; the others are numbered after them by
        ``next_agreement_number`` (CA-<year of signature>-<sequence>), in file order. Only
        their ids and numbers are kept (``_Ref``)."""
        for chunk in _chunks([item for item in items if item.number], WRITE_CHUNK):
            self._insert_agreements(chunk, customers)
        by_year: dict[int, list[_Ref]] = {}
        for item in items:
            if not item.number:
                by_year.setdefault(item.year, []).append(item)
        for year, group in by_year.items():
            prefix, first = next_agreement_number(year).rsplit("-", 1)
            for offset, item in enumerate(group):
                item.number = f"{prefix}-{int(first) + offset:0{len(first)}d}"
            for chunk in _chunks(group, WRITE_CHUNK):
                self._insert_agreements(chunk, customers)

    def _insert_agreements(self, items, customers):
        written = [self._agreement(item, customers[item.customer_ref]) for item in items]
        Agreement.objects.bulk_create(written, batch_size=500)
        for item, agreement in zip(items, written, strict=True):
            item.pk = agreement.pk

    def _agreement(self, item: _Ref, customer: Customer) -> Agreement:
        """The agreement of a checked row as written (with its id, once it is)."""
        return Agreement(
            pk=item.pk,
            customer=customer,
            number=item.number or "",
            status=Agreement.Status.ACTIVE,
            time_zone=customer.time_zone,
            created_by=self.by,
            external_ref=item.external_ref,
            billed_through=item.billed_through,
        )

    def _write_versions(self, items, *, store_pdfs):
        """Version 1 of each agreement, recorded as signed on paper, with its Exhibit B lines.
        Lines go in with bulk_create: ServiceLine.save's draft-only guard is for editing a
        version, not for recording what was signed."""
        contacts = {}
        for chunk in _chunks(list({item.customer.pk for item in items})):
            for contact in Contact.objects.filter(customer_id__in=chunk):
                contacts[contact.customer_id, contact.email.lower()] = contact
        company = CompanyProfile.current()
        field = AgreementVersion._meta.get_field("signed_pdf")
        for item in items:
            customer = item.customer
            signed_at = dt.datetime.combine(item.row.signed_on, dt.time(12), tzinfo=customer.tz)
            email = (item.row.signer_email or "").lower()
            item.version = AgreementVersion(
                agreement=item.agreement,
                number=1,
                status=AgreementVersion.Status.SIGNED,
                terms_template=item.terms_template,
                billing_day=item.row.billing_day,
                payment_terms_days=item.row.payment_terms_days,
                start_date=item.row.start_date,
                rates_snapshot=item.rates,
                parties=parties_record(customer, company=company),
                signer=contacts.get((customer.pk, email)),
                sent_at=signed_at,
                completed_at=signed_at,
                created_by=self.by,
            )
            version = item.version
            item.lines = [
                ServiceLine(version=version, position=position, **self._line_fields(service))
                for service, _line, position in item.services
            ]
            # Before the insert, from the lines in memory: one insert of the versions and no
            # update after it. The same digest as read back (a test proves it): it needs no
            # ids, the lines' positions order them.
            version.content_sha256 = content_digest(version, lines=item.lines)
            if item.pdf is not None and store_pdfs:
                name = field.generate_filename(version, f"{item.agreement.number}-v1-paper.pdf")
                version.signed_pdf = field.storage.save(name, ContentFile(item.pdf))
                version.signed_pdf_sha256 = hashlib.sha256(item.pdf).hexdigest()
        AgreementVersion.objects.bulk_create([item.version for item in items], batch_size=500)
        ServiceLine.objects.bulk_create(
            [line for item in items for line in item.lines], batch_size=500
        )

    def _line_fields(self, service):
        fields = {
            "kind": service.kind,
            "notes": service.notes,
            "labor_rate": service.labor_rate or ServiceLine.LaborRate.ONSITE,
            # As the database gives them back (two decimals), so the content digest of the
            # lines in memory is the one of the lines read again.
            "hours_per_visit": _cents(service.hours_per_visit),
            "hours_per_month": _cents(service.hours_per_month),
            "rrule": service.rrule or "",
            "start_time": service.start_time,
            "duration_minutes": service.duration_minutes,
            "schedule_text": service.schedule_text or "",
            "response_tier": None,
            "package_name": service.package_name or "",
            "quantity": service.quantity or 1,
            "checklist": [],
        }
        if service.kind == ServiceKind.MAINTENANCE:
            fields["checklist"] = (
                service.checklist
                if service.checklist is not None
                else list(ServiceLineForm.DEFAULT_CHECKLIST)
            )
        if service.kind not in (ServiceKind.MAINTENANCE, ServiceKind.PRESCHEDULED):
            fields["labor_rate"] = ServiceLine.LaborRate.ONSITE
        if service.response_tier:
            fields["response_tier"] = self.tiers[service.response_tier]
        return fields

    def _write_terms(self, items):
        """The terms up to today (``rules.term_dates``); each takes the rates of a rate change for
        it, else carries the previous term's over, as the renewal job does with finalized
        reviews (which the rate changes are recorded as)."""
        reviews = []
        for item in items:
            start = rules.first_term_start(
                signed_on=item.row.signed_on, requested_start=item.row.start_date
            )
            item.terms, rates = [], item.rates
            for number, (term_start, term_end) in enumerate(
                rules.term_dates(start, through=self.today), 1
            ):
                if number in item.changes:
                    rates = item.changes[number][1]
                item.terms.append(
                    Term(
                        agreement=item.agreement,
                        number=number,
                        start=term_start,
                        end=term_end,
                        locked_rates=rates,
                        version=item.version,
                    )
                )
            reviews += [
                RateReview(
                    agreement=item.agreement,
                    term_number=number,
                    method=change.method,
                    uplift_percent=change.uplift_percent,
                    rates=change_rates,
                    status=RateReview.Status.FINALIZED,
                    reviewed_by=self.by,
                    finalized_at=timezone.now(),
                )
                for number, (change, change_rates) in sorted(item.changes.items())
            ]
        Term.objects.bulk_create([term for item in items for term in item.terms], batch_size=500)
        RateReview.objects.bulk_create(reviews, batch_size=500)


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _chunks(values, size=500):
    """Slices of a list for ``__in`` look-ups (SQLite limits the parameters of a statement)."""
    values = list(values)
    return [values[i : i + size] for i in range(0, len(values), size)]
