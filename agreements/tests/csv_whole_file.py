"""The CSV reader before issue 14 (the whole file in memory, records grouped in dicts): the
oracle the streamed reader (``reading.CsvSource``) is compared with, in test_import_csv_stream.
The checks of a row on its own (``reading.csv_row``) are shared: the grouping is what changed."""

import csv
import io

from agreements.importing.reading import (
    CHECKLIST_SEPARATOR,
    CSV_HEADER,
    MAX_PDF_BYTES,
    Document,
    Malformed,
    _rates_head,
    csv_row,
    numbered_rows,
)


class WholeCsvSource:
    """A CSV file's records, read whole (a row may name its parent anywhere in the file)."""

    def __init__(self, data: bytes, report):
        self.malformed = True
        self.counts: dict[str, int] = {}
        self.document: Document | None = None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            report.error(0, "file", f"The file is not UTF-8 text ({error.reason}).")
            return
        self.document = _read_csv(text, report)
        if self.document is not None:
            self.malformed = False
            self.counts = {key: len(rows) for key, rows in self.document.data.items()}

    def records(self, key, *, quick=False):
        """(record, Document of the file's lines) of the ``customers`` or ``agreements``."""
        if self.document is None:
            return
        for raw in self.document.data[key]:
            yield raw, self.document

    def close(self):
        pass


def _read_csv(text, report):
    csv.field_size_limit(MAX_PDF_BYTES * 2)  # a PDF may travel as base64 in a cell
    reader = csv.reader(io.StringIO(text, newline=""))
    lines = {}
    try:
        header = [column.strip() for column in next(reader, [])]
    except csv.Error as error:
        report.error(1, "file", f"Malformed CSV: {error}.")
        return None
    if "type" not in header:
        report.error(1, "type", "The first line must be the header, with a “type” column.")
        return None
    for column in header:
        if column not in CSV_HEADER:
            report.error(1, column or "(empty)", "is not a known column")
    customers, agreements = {}, {}
    contacts, services, rates, changes = [], [], [], []
    rows = numbered_rows(reader)
    while True:
        try:
            start, cells = next(rows)
        except StopIteration:
            break
        except Malformed as error:
            report.error(error.line, "file", error.reason)
            return None
        kind, row, problems = csv_row(header, cells, start)
        report.errors += problems
        if kind is None:
            continue
        lines[id(row)] = start
        if kind == "customer":
            row["contacts"] = []
            customers.setdefault(row.get("external_ref"), []).append(row)
        elif kind == "contact":
            contacts.append(row)
        elif kind == "agreement":
            row.update(rates=_rates_head(row), rate_changes=[], services=[])
            lines[id(row["rates"])] = start
            agreements.setdefault(row.get("external_ref"), []).append(row)
        elif kind == "service":
            if CHECKLIST_SEPARATOR in row.get("checklist", "") or "checklist" in row:
                row["checklist"] = [i.strip() for i in row["checklist"].split(CHECKLIST_SEPARATOR)]
            services.append(row)
        elif kind == "rate":
            rates.append(row)
        else:
            change_rates = _rates_head(row)
            lines[id(change_rates)] = start
            row["rates"] = change_rates
            changes.append(row)

    def parent(row, table, ref_field, what):
        ref = row.pop(ref_field, None)
        found = table.get(ref)
        if not found:
            report.error(lines[id(row)], ref_field, f"names no {what} row of this file: {ref!r}")
            return None
        return found[0]

    for row in contacts:
        if customer := parent(row, customers, "customer_ref", "customer"):
            customer["contacts"].append(row)
    for row in services:
        if agreement := parent(row, agreements, "agreement_ref", "agreement"):
            agreement["services"].append(row)
    for row in changes:
        if agreement := parent(row, agreements, "agreement_ref", "agreement"):
            agreement["rate_changes"].append(row)
    for row in rates:
        line = lines[id(row)]
        agreement = parent(row, agreements, "agreement_ref", "agreement")
        if agreement is None:
            continue
        term = row.pop("term", None)
        rate = {key: row[f"rate_{key}"] for key in ("kind", "name") if f"rate_{key}" in row}
        rate.update({key: row[key] for key in ("unit", "price") if key in row})
        lines[id(rate)] = line
        if term is None:
            agreement["rates"]["rates"].append(rate)
            continue
        change = next((c for c in agreement["rate_changes"] if c.get("term") == term), None)
        if change is None:
            report.error(line, "term", f"no rate_change row for term {term} of this agreement")
            continue
        change["rates"]["rates"].append(rate)
    data = {
        "customers": [row for rows in customers.values() for row in rows],
        "agreements": [row for rows in agreements.values() for row in rows],
    }
    return Document(data, lines)
