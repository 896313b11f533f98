"""The import of existing, signed agreements (``manage.py import_agreements FILE``,
``POST /api/v1/imports`` and the admins' upload page, ``views_import``); the export in the same
format is ``agreements.exporting``.

The format, JSON (one document) or CSV (one row per record, by a ``type`` column):

    {"format": "allora-agreements", "version": 1,
     "customers": [{"external_ref": "C-1", "legal_name": "...", "address_line1": "...",
                    "postal_code": "27603", "phone": "...", "time_zone": "America/New_York",
                    "contacts": [{"name": "...", "email": "...", "is_authorized_signer": true}]}],
     "agreements": [{"external_ref": "A-1", "customer_ref": "C-1", "signed_on": "2024-03-15",
                     "billing_day": 1, "payment_terms_days": 30, "signer_email": "...",
                     "billed_through": "2026-11-30",
                     "rates": {"rate_card": {...}, "discounts": {"maintenance": "25.00"},
                               "rates": [{"kind": "onsite_hourly", "name": "On-site support",
                                          "unit": "hour", "price": "150.00"}, ...]},
                     "rate_changes": [{"term": 3, "method": "uplift", "uplift_percent": "5.00",
                                       "rates": {...}}],
                     "services": [{"kind": "maintenance", "hours_per_visit": "2.00",
                                   "rrule": "FREQ=MONTHLY;BYDAY=+3WE", "start_time": "10:00",
                                   "duration_minutes": 120}, ...],
                     "pdf_base64": "JVBERi0..."  (or "pdf_path": "contracts/a-1.pdf")}]}

An imported agreement is active: term 1 starts on the signature date (or the later start
date), the later terms follow the term rules up to today (``rules.term_dates``; the rates carry
over, or take a ``rate_changes`` entry, recorded as a finalized rate review exactly as the
renewal job reads them), and the visits of the current term are planned from today. Imports
never back-bill: ``billed_through`` is the last day the previous system billed (default: the last
day of the import month); this system's first invoice is for the month after it
(``first_invoice``). A file is imported all or nothing; a record whose ``external_ref`` is
already in the system is left as it is, so importing the same file again changes nothing; a
number or reference of another customer's record is an error on its row, never a match. Every
bad row is reported with its line.

The package, in the order a file goes through it:

- ``reading``: the file formats: JSON or CSV (its columns, ``CSV_COLUMNS``) read into the one
  shape above, each record with the line it starts on. JSON is read a record at a time (a
  50 MB file is never held whole); CSV, whose rows name their parents anywhere, is read once
  into a temporary SQLite table and each record read back from it with the rows naming it.
- ``rows``: the row schemas (pydantic) and the checks of each row; bad fields are reported with
  their line.
- ``importer``: the import itself, ``import_bytes`` / ``import_path`` / ``import_file``: check
  every row (keeping what the checks across rows need, the checked rows spooled to a temporary
  file), then write it all in one transaction, 500 agreements at a time (or roll it back: the
  dry run behind the upload page's preview); ``first_invoice``.
- ``report``: what an import returns, ``ImportReport``: the agreements imported and the bad rows
  (and its JSON form, kept on an ``ImportJob``).
- ``jobs``: an upload as an ``ImportJob`` the worker previews and, once confirmed, imports, with
  its progress; the daily removal of previews nobody confirmed.

A file over ``IMPORT_MAX_BYTES`` is refused before it is parsed (``reading.size_problem``).
"""

from .importer import first_invoice, import_bytes, import_file, import_path
from .reading import (
    CHECKLIST_SEPARATOR,
    CSV_COLUMNS,
    CSV_HEADER,
    FORMAT,
    FORMAT_VERSION,
    MAX_PDF_BYTES,
    read_document,
)
from .report import ImportedAgreement, ImportReport, RowError
from .rows import AgreementRow, ContactRow, CustomerRow, RateChangeRow, ServiceRow

__all__ = [
    "CHECKLIST_SEPARATOR",
    "CSV_COLUMNS",
    "CSV_HEADER",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_PDF_BYTES",
    "AgreementRow",
    "ContactRow",
    "CustomerRow",
    "ImportReport",
    "ImportedAgreement",
    "RateChangeRow",
    "RowError",
    "ServiceRow",
    "first_invoice",
    "import_bytes",
    "import_file",
    "import_path",
    "read_document",
]
