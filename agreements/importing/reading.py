"""Reading an import file: JSON (one document) or CSV (one row per record, by a ``type``
column) into the one JSON shape the rows are validated in (``agreements.importing``'s docstring
shows it), remembering the line each record starts on so every error names it. The CSV columns
are shared with the export (``agreements.exporting``)."""

import csv
import io
import json
import math
import re
import sqlite3
import tempfile
from contextlib import closing
from decimal import Decimal
from json.decoder import JSONObject  # type: ignore[attr-defined]
from json.scanner import make_scanner, py_make_scanner  # type: ignore[attr-defined]
from pathlib import Path

from django.conf import settings

from allora.spreadsheet import unescape_cell
from billing.rules import DISCOUNTED_KINDS

from .report import ImportReport, RowError

FORMAT = "allora-agreements"
FORMAT_VERSION = 1
MB = 1024 * 1024
MAX_PDF_BYTES = 20 * MB


def size_problem(size: int) -> str | None:
    """Why a file of ``size`` bytes is refused before it is parsed (the ``IMPORT_MAX_BYTES``
    setting), or None."""
    limit = settings.IMPORT_MAX_BYTES
    if size <= limit:
        return None
    # Rounded up, so a file just over the limit never reads as "20 MB; the limit is 20 MB".
    return f"The file is {file_size(size, up=True)}; the limit is {file_size(limit)}."


def file_size(size: int, *, up=False) -> str:
    """A size as people read it: 52.4 MB, 20 MB (one decimal at most), 3 KB."""
    unit, name = (MB, "MB") if size >= MB else (1024, "KB")
    tenths = math.ceil(size * 10 / unit) if up else round(size * 10 / unit)
    return f"{tenths / 10:.1f}".removesuffix(".0") + f" {name}"


class Document:
    """Parsed records: plain dicts and lists in the JSON shape, and where each dict started."""

    def __init__(self, data, lines):
        self.data = data
        self._lines = lines  # id(dict) -> line

    def line(self, obj, default=0):
        return self._lines.get(id(obj), default)

    def exact(self):
        """The record parsed again with the line of each of its dicts (``Quick``), or None:
        this document has them all."""
        return None


class Quick(Document):
    """A record parsed by the fast (C) parser: only its own line is known; ``exact()`` parses
    it again, slowly, with the line of each nested dict (to report its errors)."""

    def __init__(self, record, line, again):
        super().__init__(None, {id(record): line})
        self._again = again

    def exact(self):
        return self._again()


class Malformed(Exception):
    """The file is not JSON at all: its one error, on ``line``."""

    def __init__(self, line, reason):
        super().__init__(reason)
        self.line, self.reason = line, reason


def open_source(open_file, *, name: str, report: ImportReport):
    """The records of a file, to be read as many times as the import needs (``records``):
    ``open_file()`` gives its bytes as a fresh binary stream each time. JSON is read one record
    at a time; CSV (whose rows may name a parent anywhere in the file) is read once into a
    temporary table and its records read back from it. None (and the reason reported) for
    another kind of file. ``close()`` it once done."""
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        return JsonSource(open_file, report)
    if suffix == ".csv":
        return CsvSource(open_file, report)
    report.error(0, "file", "The file must be .json or .csv.")
    return None


def read_document(data: bytes, *, name: str, report: ImportReport) -> Document | None:
    """The whole file parsed into the JSON shape (customers and agreements), or None with the
    reason reported."""
    source = open_source(lambda: io.BytesIO(data), name=name, report=report)
    if source is None:
        return None
    records: dict[str, list] = {}
    lines: dict[int, int] = {}
    with closing(source):
        for key in ("customers", "agreements"):
            records[key] = []
            for raw, doc in source.records(key):
                records[key].append(raw)
                lines.update(doc._lines)
    return None if source.malformed else Document(records, lines)


def _json_int(digits: str):
    """An integer of the file; a very long one stays a Decimal (``int()`` refuses more than
    4,300 digits), so its field reports it as out of range instead of the parser failing."""
    return int(digits) if len(digits) <= 30 else Decimal(digits)


_SPACE = re.compile(r"[ \t\n\r]*")
_CHUNK = 1024 * 1024  # characters read at a time


class _Reader:
    """JSON text read a chunk at a time and parsed a value at a time, knowing the line of each
    position: only the record being parsed (and a chunk of text) is in memory."""

    def __init__(self, stream):
        self.stream = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        self.buf, self.pos, self.eof = "", 0, False
        self.start = 0  # where the last value began
        self.line_pos, self.line = 0, 1  # the line of buf[line_pos]
        decoder = json.JSONDecoder(parse_float=Decimal, parse_int=_json_int)
        self.fast = make_scanner(decoder)  # type: ignore[arg-type] # the C scanner, for what is skipped
        self.positions: dict[int, int] = {}  # id(dict) -> position, while a record is parsed

        def parse_object(s_and_end, *args, **kwargs):
            obj, end = JSONObject(s_and_end, *args, **kwargs)
            self.positions[id(obj)] = s_and_end[1] - 1
            return obj, end

        # The pure-Python scanner calls parse_object, so each dict can remember its line.
        setattr(decoder, "parse_object", parse_object)  # noqa: B010
        self.exact = py_make_scanner(decoder)

    def more(self) -> bool:
        """Read the next chunk (dropping the text already parsed); False at the end."""
        if self.eof:
            return False
        self.line_at(self.pos)
        cut = self.buf.rfind("\n", 0, self.pos) + 1  # whole lines kept: columns stay right
        if cut > _CHUNK:
            self.buf = self.buf[cut:]
            self.pos, self.line_pos = self.pos - cut, self.line_pos - cut
        text = self.stream.read(_CHUNK)
        self.eof = not text
        self.buf += text
        return not self.eof

    def line_at(self, position: int) -> int:
        """The line of ``position`` in the text held."""
        if position >= self.line_pos:
            self.line += self.buf.count("\n", self.line_pos, position)
        else:
            self.line -= self.buf.count("\n", position, self.line_pos)
        self.line_pos = position
        return self.line

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos : self.pos + 1]

    def expect(self, chars: str) -> str:
        """The next character, one of ``chars``; else the file is malformed."""
        char = self.peek()
        if not char or char not in chars:
            what = {",": "',' delimiter", ":": "':' delimiter"}.get(chars[0], "value")
            self.fail(f"Expecting {what}", self.pos)
        self.pos += 1
        return char

    def fail(self, message, position):
        column = position - self.buf.rfind("\n", 0, position)
        raise Malformed(self.line_at(position), f"Malformed JSON: {message} (column {column}).")

    def value(self, *, exact=False):
        """The next value; with ``exact``, the positions of its dicts are in ``positions``."""
        self.peek()
        while True:
            self.positions.clear()
            try:
                value, end = (self.exact if exact else self.fast)(self.buf, self.pos)
            except StopIteration as stop:
                if self.more():
                    continue
                self.fail("Expecting value", stop.value)
            except json.JSONDecodeError as error:
                if self.more():  # the value may go on in the next chunk
                    continue
                self.fail(error.msg, error.pos)
            except RecursionError:
                raise Malformed(0, "Malformed JSON: nested too deeply.") from None
            if end == len(self.buf) and self.more():  # a number may go on
                continue
            self.start, self.pos = self.pos, end
            return value

    def record(self, *, exact=True):
        """The next value and a Document of the lines its dicts start on (``exact``), or
        ``Quick``: the line of the value itself, the others on demand."""
        if not exact:
            value = self.value()
            start = self.start  # where it began (the text before may have been dropped)
            return value, Quick(value, self.line_at(start), lambda: self._again(start))
        value = self.value(exact=True)
        ordered = sorted(self.positions.items(), key=lambda item: item[1])
        lines = {key: self.line_at(position) for key, position in ordered}
        self.positions.clear()
        return value, Document(None, lines)

    def _again(self, start):
        """The value at ``start`` (still held: the reader waits for the next ``record``) parsed
        again with the lines of its dicts."""
        end = self.pos
        self.pos = start
        try:
            return self.record()
        finally:
            self.pos = end


class JsonSource:
    """A JSON file's records, read one at a time: ``{"format": ..., "version": 1,
    "customers": [...], "agreements": [...]}``, its fields in any order."""

    def __init__(self, open_file, report):
        self.open_file = open_file
        self.report = report
        self.malformed = False
        self.counts: dict[str, int] = {}  # records of each list, once the file is read
        self.checked = False  # the file's own fields reported (once)

    def close(self):
        pass

    def records(self, key, *, quick=False):
        """(record, Document of its lines) of the ``customers`` or ``agreements`` list, in file
        order, the other list skipped; with ``quick``, parsed fast without the lines of nested
        dicts (``Quick``). A malformed file is reported (its only error) and yields nothing
        more."""
        if self.malformed:
            return
        problems: list[RowError] = []
        try:
            with self.open_file() as stream:
                yield from self._walk(_Reader(stream), key, problems, quick=quick)
        except UnicodeDecodeError as error:
            self._malformed(0, f"The file is not UTF-8 text ({error.reason}).")
            return
        except Malformed as error:
            self._malformed(error.line, error.reason)
            return
        if not self.checked:
            self.checked = True
            self.report.errors[:0] = problems

    def _malformed(self, line, reason):
        self.malformed = True
        self.report.errors.clear()
        self.report.error(line, "file", reason)

    def _walk(self, reader, want, problems, *, quick):
        if reader.peek() != "{":
            reader.value()  # malformed, unless it is JSON of another shape
            if reader.peek():
                reader.fail("Extra data", reader.pos)
            raise Malformed(1, "The file must hold one JSON object with customers and agreements.")
        top = reader.line_at(reader.pos)
        reader.pos += 1
        fields, unknown, not_lists = {}, set(), set()
        if reader.peek() == "}":
            reader.pos += 1
        else:
            while True:
                if reader.peek() != '"':
                    reader.fail("Expecting property name enclosed in double quotes", reader.pos)
                name = reader.value()
                reader.expect(":")
                if name in ("customers", "agreements") and reader.peek() == "[":
                    reader.pos += 1
                    self.counts[name] = yield from self._list(
                        reader, want=name == want, quick=quick
                    )
                elif name in ("customers", "agreements"):
                    reader.value()
                    not_lists.add(name)
                elif name in ("format", "version"):
                    fields[name] = reader.value()
                else:
                    reader.value()
                    unknown.add(name)
                if reader.expect(",}") == "}":
                    break
        if reader.peek():
            reader.fail("Extra data", reader.pos)
        problems += [RowError(top, name, "is not a known field") for name in sorted(unknown)]
        if fields.get("format", FORMAT) != FORMAT or fields.get("version", FORMAT_VERSION) != 1:
            problems.append(RowError(1, "format", f'Expected "format": "{FORMAT}", "version": 1.'))
        for name in ("customers", "agreements"):
            if name in not_lists:
                problems.append(RowError(top, name, "must be a list"))

    @staticmethod
    def _list(reader, *, want, quick):
        """Yield the records of a list (``want``) or skip them; returns how many there were."""
        count = 0
        if reader.peek() == "]":
            reader.pos += 1
            return count
        while True:
            count += 1
            if want:
                yield reader.record(exact=not quick)
            else:
                reader.value()
            if reader.expect(",]") == "]":
                return count


CSV_COLUMNS = {
    "customer": (
        "external_ref legal_name address_line1 address_line2 city state postal_code phone "
        "time_zone status"
    ),
    "contact": (
        "customer_ref name title email phone is_authorized_signer is_project_approver "
        "is_billing_contact"
    ),
    "agreement": (
        "external_ref customer_ref number signed_on start_date signer_email terms_version "
        "billing_day billed_through payment_terms_days pdf_path pdf_base64 rate_card_version "
        "rate_card_title rate_card_effective_date discount_maintenance discount_prescheduled"
    ),
    "service": (
        "agreement_ref kind labor_rate hours_per_visit hours_per_month rrule start_time "
        "duration_minutes schedule_text checklist response_tier package_name quantity notes"
    ),
    "rate": "agreement_ref term rate_kind rate_name unit price",
    "rate_change": (
        "agreement_ref term method uplift_percent rate_card_version rate_card_title "
        "rate_card_effective_date discount_maintenance discount_prescheduled"
    ),
}
CSV_COLUMNS = {kind: tuple(columns.split()) for kind, columns in CSV_COLUMNS.items()}
CSV_HEADER = ("type", *dict.fromkeys(c for columns in CSV_COLUMNS.values() for c in columns))
CHECKLIST_SEPARATOR = "|"


def _rates_head(row):
    """The rate card and discounts of a rates snapshot, from CSV columns."""
    rates = {"rates": []}
    card = {
        key: row.pop(f"rate_card_{key}")
        for key in ("version", "title", "effective_date")
        if f"rate_card_{key}" in row
    }
    if card:
        rates["rate_card"] = card
    discounts = {
        kind: row.pop(f"discount_{kind}") for kind in DISCOUNTED_KINDS if f"discount_{kind}" in row
    }
    if discounts:
        rates["discounts"] = discounts
    return rates


class CsvSource:
    """A CSV file's records, streamed: a row may name its parent anywhere in the file, so one
    pass reads the rows (each checked on its own) into a temporary SQLite table, by kind and
    reference, and ``records`` reads each customer or agreement back with its rows. Only a row
    at a time and one record's rows are in memory."""

    def __init__(self, open_file, report):
        self.malformed = True
        self.counts: dict[str, int] = {}
        self._dir = tempfile.TemporaryDirectory(prefix="allora-import-")
        self.db = sqlite3.connect(Path(self._dir.name) / "rows.sqlite3")
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE row (seq INTEGER PRIMARY KEY, kind TEXT, line INTEGER, key TEXT,"
            " parent TEXT, term TEXT, data TEXT);"
        )
        self._broken = False  # malformed, or no header: its rows are not read
        try:
            with open_file() as stream:
                text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
                problems = list(self._spool(text))
        except UnicodeDecodeError as error:
            report.error(0, "file", f"The file is not UTF-8 text ({error.reason}).")
            return
        report.errors += problems
        if self._broken:
            return
        self.db.executescript(
            "CREATE INDEX row_key ON row (kind, key, seq);"
            "CREATE INDEX row_parent ON row (kind, parent, seq);"
        )
        report.errors += self._orphans()
        self.malformed = False
        self.counts = {
            "customers": self._count("customer"),
            "agreements": self._count("agreement"),
        }

    def close(self):
        self.db.close()
        self._dir.cleanup()

    def _count(self, kind):
        return self.db.execute("SELECT count(*) FROM row WHERE kind = ?", (kind,)).fetchone()[0]

    def _spool(self, text):
        """Read the rows into the table; yield each problem of a row on its own. A malformed
        file's problem comes last (``_broken``), once the rest of it is read: it must still be
        UTF-8."""
        csv.field_size_limit(MAX_PDF_BYTES * 2)  # a PDF may travel as base64 in a cell
        reader = csv.reader(text)
        try:
            header = [column.strip() for column in next(reader, [])]
        except csv.Error as error:
            yield self._broke(text, 1, "file", f"Malformed CSV: {error}.")
            return
        if "type" not in header:
            reason = "The first line must be the header, with a “type” column."
            yield self._broke(text, 1, "type", reason)
            return
        for column in header:
            if column not in CSV_HEADER:
                yield RowError(1, column or "(empty)", "is not a known column")
        batch: list[tuple] = []
        try:
            for start, cells in numbered_rows(reader):
                kind, row, problems = csv_row(header, cells, start)
                yield from problems
                if kind is None:
                    continue
                batch.append((kind, start, *_spooled(kind, row)))
                if len(batch) == 1000:
                    self._insert(batch)
        except Malformed as error:
            yield self._broke(text, error.line, "file", error.reason)
            return
        self._insert(batch)

    def _broke(self, text, line, field_name, reason):
        """The problem that stops the reading of a file, once the rest of it is read: it must
        still be UTF-8."""
        while text.read(_CHUNK):
            pass
        self._broken = True
        return RowError(line, field_name, reason)

    def _insert(self, batch):
        self.db.executemany(
            "INSERT INTO row (kind, line, key, parent, term, data) VALUES (?, ?, ?, ?, ?, ?)",
            batch,
        )
        batch.clear()

    def _orphans(self):
        """The rows that name no parent of this file (and rates of a term with no rate change),
        as the whole-file reader reported them: contacts, services, rate changes, rates."""
        for kind, parent, field_name in (
            ("contact", "customer", "customer_ref"),
            ("service", "agreement", "agreement_ref"),
            ("rate_change", "agreement", "agreement_ref"),
        ):
            for line, ref in self.db.execute(
                "SELECT line, parent FROM row WHERE kind = ? AND parent NOT IN"
                " (SELECT key FROM row WHERE kind = ?) ORDER BY seq",
                (kind, parent),
            ):
                yield RowError(line, field_name, _no_parent(ref, parent))
        for line, ref, term, found in self.db.execute(
            "SELECT line, parent, term, parent IN (SELECT key FROM row WHERE kind = 'agreement')"
            " AS found FROM row AS rate WHERE kind = 'rate' AND (NOT found OR term IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM row AS change WHERE change.kind = 'rate_change'"
            " AND change.parent = rate.parent AND change.term = rate.term)) ORDER BY seq"
        ):
            if not found:
                yield RowError(line, "agreement_ref", _no_parent(ref, "agreement"))
            else:
                reason = f"no rate_change row for term {term} of this agreement"
                yield RowError(line, "term", reason)

    def _rows(self, kind, parent):
        for line, term, data in self.db.execute(
            "SELECT line, term, data FROM row WHERE kind = ? AND parent = ? ORDER BY seq",
            (kind, parent),
        ):
            yield line, term, json.loads(data)

    def records(self, key, *, quick=False):
        """(record, Document of its lines) of the ``customers`` or ``agreements``, in the order
        of their references' first rows (rows of the same reference together); the first row
        of a reference gets the rows that name it."""
        if self.malformed:
            return
        kind = key.removesuffix("s")
        for seq, line, ref, data, first in self.db.execute(
            "SELECT seq, line, row.key, data, first FROM row JOIN (SELECT key, min(seq) AS first"
            " FROM row WHERE kind = :kind GROUP BY key) AS refs ON row.key = refs.key"
            " WHERE kind = :kind ORDER BY first, seq",
            {"kind": kind},
        ):
            record = json.loads(data)
            lines = {id(record): line}
            children = self._rows if seq == first else _none
            if kind == "customer":
                record["contacts"] = []
                for child_line, _term, contact in children("contact", ref):
                    record["contacts"].append(contact)
                    lines[id(contact)] = child_line
            else:
                self._agreement(record, ref, lines, children)
            yield record, Document(None, lines)

    @staticmethod
    def _agreement(record, ref, lines, children):
        record.update(rate_changes=[], services=[])
        lines[id(record["rates"])] = lines[id(record)]
        for line, _term, service in children("service", ref):
            record["services"].append(service)
            lines[id(service)] = line
        for line, _term, change in children("rate_change", ref):
            record["rate_changes"].append(change)
            lines[id(change)] = lines[id(change["rates"])] = line
        for line, term, rate in children("rate", ref):
            lines[id(rate)] = line
            if term is None:
                record["rates"]["rates"].append(rate)
                continue
            change = next((c for c in record["rate_changes"] if c.get("term") == term), None)
            if change is not None:  # else reported (``_orphans``)
                change["rates"]["rates"].append(rate)


def _none(kind, parent):
    return ()


def numbered_rows(reader):
    """(the line it starts on, cells) of each row after the header of a ``csv.reader``; a
    malformed row raises ``Malformed``."""
    end = 1
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise Malformed(start, f"Malformed CSV: {error}.") from None
        end = reader.line_num
        yield start, cells


def csv_row(header, cells, line):
    """A data row checked on its own: (kind, the row's cells by column, problems); kind is
    None for a row that is skipped (blank, or reported whole). Columns that do not apply to the
    kind are reported and dropped."""
    if not any(cell.strip() for cell in cells):
        return None, None, []
    if len(cells) != len(header):
        reason = f"has {len(cells)} cells; the header has {len(header)}"
        return None, None, [RowError(line, "row", reason)]
    # The export neutralized formula cells with a leading ' (allora.spreadsheet).
    row = {c: unescape_cell(v.strip()) for c, v in zip(header, cells, strict=True) if v.strip()}
    kind = row.pop("type", "")
    if kind not in CSV_COLUMNS:
        return None, None, [RowError(line, "type", f"must be one of {', '.join(CSV_COLUMNS)}")]
    columns = sorted(set(row) - set(CSV_COLUMNS[kind]))
    for column in columns:
        row.pop(column)
    return kind, row, [RowError(line, c, f"does not apply to a {kind} row") for c in columns]


def _no_parent(ref, what):
    return f"names no {what} row of this file: {json.loads(ref)!r}"


def _spooled(kind, row):
    """(key, parent, term, data) of a row as the table keeps it: references as JSON (a missing
    one is ``null``, so rows without one still find each other), the record in the JSON
    shape."""
    key = parent = term = None
    if kind in ("customer", "agreement"):
        key = json.dumps(row.get("external_ref"))
    else:
        parent = json.dumps(row.pop("customer_ref" if kind == "contact" else "agreement_ref", None))
    if kind == "agreement":
        row["rates"] = _rates_head(row)
    elif kind == "service":
        if CHECKLIST_SEPARATOR in row.get("checklist", "") or "checklist" in row:
            row["checklist"] = [i.strip() for i in row["checklist"].split(CHECKLIST_SEPARATOR)]
    elif kind == "rate":
        term = row.pop("term", None)
        rate = {name: row[f"rate_{name}"] for name in ("kind", "name") if f"rate_{name}" in row}
        rate.update({name: row[name] for name in ("unit", "price") if name in row})
        row = rate
    elif kind == "rate_change":
        term = row.get("term")
        row["rates"] = _rates_head(row)
    return key, parent, term, json.dumps(row)
