"""The report of an import: each agreement imported (or already there) and each bad row with
its line. Every step writes to it: the reading of the file (``reading``), the rows' validation
(``rows``) and the import itself (``importer``)."""

import datetime as dt
from dataclasses import asdict, dataclass, field


@dataclass
class RowError:
    line: int  # 1-based line of the file where the bad record starts; 0: the whole file
    field: str
    reason: str


@dataclass
class ImportedAgreement:
    external_ref: str
    number: str
    customer: str
    terms: int
    current_term_start: dt.date
    current_term_end: dt.date
    visits_planned: int
    existing: bool = False
    # New agreements only: the last day the previous system billed, and the first invoice
    # this system will issue (the month, first day; and its issue date).
    billed_through: dt.date | None = None
    first_invoice_period: dt.date | None = None
    first_invoice_on: dt.date | None = None


@dataclass
class ImportReport:
    dry_run: bool = False
    customers_created: int = 0
    customers_existing: int = 0
    contacts_created: int = 0
    agreements_created: int = 0
    agreements_existing: int = 0
    agreements: list[ImportedAgreement] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self):
        return not self.errors

    def error(self, line, field_name, reason):
        self.errors.append(RowError(line, field_name, reason))


_DATES = ("current_term_start", "current_term_end", "billed_through")
_DATES += ("first_invoice_period", "first_invoice_on")


def report_to_json(report: ImportReport) -> dict:
    """The report as JSON (an ``ImportJob``'s record of it), dates written YYYY-MM-DD."""
    data = asdict(report)
    for item in data["agreements"]:
        for name in _DATES:
            item[name] = item[name] and item[name].isoformat()
    return data


def report_from_json(data: dict) -> ImportReport:
    """The report ``report_to_json`` recorded."""
    data = dict(data)
    agreements = []
    for item in data.pop("agreements"):
        item = dict(item)
        for name in _DATES:
            item[name] = item[name] and dt.date.fromisoformat(item[name])
        agreements.append(ImportedAgreement(**item))
    errors = [RowError(**error) for error in data.pop("errors")]
    return ImportReport(**data, agreements=agreements, errors=errors)
