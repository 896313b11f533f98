"""The export of every customer and live agreement in the import format
(``manage.py export_agreements [FILE]``): JSON, or CSV with the PDFs in a folder beside it
(a text cell that a spreadsheet would run as a formula gets a leading ``'``, which the import
strips: ``allora.spreadsheet``).
Importing an export changes nothing, and an export imported elsewhere is not billed again
(``billed_through``)."""

import base64
import csv
import datetime as dt
import json
import re
from pathlib import Path

from django.db.models import Max, Prefetch
from django.utils import timezone

from allora.spreadsheet import safe_cell
from billing.models import Invoice

from .importing import CHECKLIST_SEPARATOR, CSV_COLUMNS, CSV_HEADER, FORMAT, FORMAT_VERSION
from .importing.importer import end_of_month
from .models import (
    Agreement,
    AgreementVersion,
    Contact,
    Customer,
    RateReview,
    ServiceKind,
    ServiceLine,
    Term,
)


def _time(value: dt.time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _service(line) -> dict:
    out = {"kind": line.kind}
    if line.kind in (ServiceKind.MAINTENANCE, ServiceKind.PRESCHEDULED):
        out["labor_rate"] = line.labor_rate
        if line.kind == ServiceKind.MAINTENANCE:
            out["hours_per_visit"] = f"{line.hours_per_visit:.2f}"
        else:
            out["hours_per_month"] = f"{line.hours_per_month:.2f}"
        if line.rrule:
            out.update(
                rrule=line.rrule,
                start_time=_time(line.start_time),
                duration_minutes=line.duration_minutes,
                schedule_text=line.schedule_text,
            )
        if line.kind == ServiceKind.MAINTENANCE:
            out["checklist"] = list(line.checklist)
    elif line.kind == ServiceKind.EMERGENCY:
        out["response_tier"] = line.response_tier.name
    else:
        out.update(package_name=line.package_name, quantity=line.quantity)
    if line.notes:
        out["notes"] = line.notes
    return out


def _customer_ref(customer) -> str:
    return customer.external_ref or f"customer-{customer.pk}"


def export_document(*, pdfs=True) -> dict:
    """Every customer and every live agreement in the import format (PDFs as base64)."""
    customers = Customer.objects.prefetch_related(
        Prefetch("contacts", Contact.objects.order_by("name", "id"))
    ).order_by("legal_name")
    versions = AgreementVersion.objects.filter(
        status=AgreementVersion.Status.SIGNED
    ).select_related("terms_template", "signer")
    agreements = (
        Agreement.objects.live()
        .filter(terms__isnull=False)
        .distinct()
        .select_related("customer")
        .prefetch_related(
            Prefetch("terms", Term.objects.select_related("version__signer").order_by("number")),
            Prefetch(
                "rate_reviews",
                RateReview.objects.filter(status=RateReview.Status.FINALIZED),
                to_attr="finalized_reviews",
            ),
            Prefetch("versions", versions.order_by("-number"), to_attr="signed_versions"),
            Prefetch("signed_versions__lines", ServiceLine.objects.select_related("response_tier")),
        )
        .order_by("number")
    )
    # The last month this system invoiced, per agreement: an import of the export must not
    # bill it again.
    invoiced = dict(
        Invoice.objects.filter(kind=Invoice.Kind.MONTHLY)
        .exclude(status=Invoice.Status.VOID)
        .values("agreement_id")
        .annotate(last=Max("period"))
        .values_list("agreement_id", "last")
    )
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "customers": [
            {
                "external_ref": _customer_ref(customer),
                **{
                    name: getattr(customer, name)
                    for name in CSV_COLUMNS["customer"]
                    if name != "external_ref"
                },
                "contacts": [
                    {
                        name: getattr(contact, name)
                        for name in CSV_COLUMNS["contact"]
                        if name != "customer_ref"
                    }
                    for contact in customer.contacts.all()
                ],
            }
            for customer in customers
        ],
        "agreements": [
            _export_agreement(agreement, pdfs=pdfs, last_invoiced=invoiced.get(agreement.pk))
            for agreement in agreements
        ],
    }
    return document


def _billed_through(agreement, last_invoiced):
    """The last day billed: the previous system's (an import), or the end of the last month
    this system invoiced, whichever is later; None when neither billed anything."""
    days = [agreement.billed_through, last_invoiced and end_of_month(last_invoiced)]
    return max((day for day in days if day), default=None)


def _export_agreement(agreement, *, pdfs, last_invoiced=None):
    terms = list(agreement.terms.all())
    first = terms[0].version
    current = agreement.signed_versions[0] if agreement.signed_versions else first
    signed_on = (
        timezone.localdate(first.completed_at, agreement.tz)
        if first.completed_at
        else terms[0].start
    )
    out = {
        "external_ref": agreement.external_ref or agreement.number,
        "customer_ref": _customer_ref(agreement.customer),
        "number": agreement.number,
        "signed_on": signed_on.isoformat(),
    }
    if first.start_date:
        out["start_date"] = first.start_date.isoformat()
    if first.signer_id:
        out["signer_email"] = first.signer.email
    out.update(terms_version=current.terms_template.version, billing_day=current.billing_day)
    if billed_through := _billed_through(agreement, last_invoiced):
        out["billed_through"] = billed_through.isoformat()
    out.update(payment_terms_days=current.payment_terms_days, rates=terms[0].locked_rates)
    reviews = {review.term_number: review for review in agreement.finalized_reviews}
    changes = []
    for previous, term in zip(terms, terms[1:], strict=False):
        if term.number not in reviews and term.locked_rates != previous.locked_rates:
            changes.append({"term": term.number, "method": "card", "rates": term.locked_rates})
    for number, review in reviews.items():
        change = {"term": number, "method": review.method}
        if review.uplift_percent is not None:
            change["uplift_percent"] = f"{review.uplift_percent:.2f}"
        changes.append({**change, "rates": review.rates})
    if changes:
        out["rate_changes"] = sorted(changes, key=lambda change: change["term"])
    out["services"] = [_service(line) for line in current.lines.all()]
    pdf_version = current if current.signed_pdf else first
    if pdfs and pdf_version.signed_pdf:
        try:
            with pdf_version.signed_pdf.open("rb") as handle:
                out["pdf_base64"] = base64.b64encode(handle.read()).decode("ascii")
        except FileNotFoundError:
            pass  # the stored file is gone: export the rest
    return out


def dumps_json(document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_json(document, stream):
    stream.write(dumps_json(document))


def _cell(value):
    """A value as a CSV cell no spreadsheet runs as a formula; the import undoes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else safe_cell(str(value))


def write_csv(document, stream, *, pdf_dir: Path | None = None):
    """The document as CSV rows; with ``pdf_dir`` the PDFs are written there as files and
    referenced by ``pdf_path`` (relative to the CSV's folder), else embedded as base64."""
    writer = csv.DictWriter(stream, fieldnames=CSV_HEADER, lineterminator="\n")
    writer.writeheader()

    def row(kind, values):
        writer.writerow({"type": kind, **{key: _cell(value) for key, value in values.items()}})

    def rates_head(rates):
        card = rates.get("rate_card") or {}
        head = {f"rate_card_{key}": value for key, value in card.items()}
        head.update({f"discount_{k}": v for k, v in (rates.get("discounts") or {}).items()})
        return head

    def rate_rows(ref, rates, term=None):
        for rate in rates["rates"]:
            row(
                "rate",
                {
                    "agreement_ref": ref,
                    "term": term,
                    "rate_kind": rate["kind"],
                    "rate_name": rate["name"],
                    "unit": rate["unit"],
                    "price": rate["price"],
                },
            )

    for customer in document["customers"]:
        row("customer", {k: v for k, v in customer.items() if k != "contacts"})
        for contact in customer["contacts"]:
            row("contact", {"customer_ref": customer["external_ref"], **contact})
    for agreement in document["agreements"]:
        ref = agreement["external_ref"]
        values = {
            key: value
            for key, value in agreement.items()
            if key not in ("rates", "rate_changes", "services", "pdf_base64")
        }
        values.update(rates_head(agreement["rates"]))
        if "pdf_base64" in agreement:
            if pdf_dir is None:
                values["pdf_base64"] = agreement["pdf_base64"]
            else:
                pdf_dir.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^A-Za-z0-9._-]+", "_", ref) + ".pdf"
                (pdf_dir / name).write_bytes(base64.b64decode(agreement["pdf_base64"]))
                values["pdf_path"] = f"{pdf_dir.name}/{name}"
        row("agreement", values)
        rate_rows(ref, agreement["rates"])
        for change in agreement.get("rate_changes", []):
            row(
                "rate_change",
                {
                    "agreement_ref": ref,
                    **{k: v for k, v in change.items() if k != "rates"},
                    **rates_head(change["rates"]),
                },
            )
            rate_rows(ref, change["rates"], term=change["term"])
        for service in agreement["services"]:
            values = dict(service)
            if "checklist" in values:
                values["checklist"] = CHECKLIST_SEPARATOR.join(values["checklist"])
            row("service", {"agreement_ref": ref, **values})


def export_to_path(path, *, document=None):
    """Write the export to ``path`` (.json, or .csv with the PDFs in a folder beside it)."""
    path = Path(path)
    document = document or export_document()
    with path.open("w", encoding="utf-8", newline="") as stream:
        if path.suffix.lower() == ".csv":
            write_csv(document, stream, pdf_dir=path.parent / f"{path.stem}-pdfs")
        else:
            write_json(document, stream)
    return document
