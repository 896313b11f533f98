"""CSV cells a spreadsheet will not run as formulas (OWASP, "CSV Injection"): every CSV this
app writes goes through ``safe_row`` (the invoice export, ``billing.views``; the agreements
export, ``agreements.exporting``), and the import reads its own export back with
``unescape_cell``.

Text that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
``'``. A cell that is exactly a number (``-12.50``, a credit in the invoice export) stays as it
is: a spreadsheet reads it as a number, never as a formula, and sums it. A text that already
begins with ``'`` gets a second one, so ``unescape_cell`` gives back exactly what was written.

``csv_download`` streams a CSV one row at a time, so memory stays constant whatever the number
of rows; ``queryset_download`` is the staff lists' "Export CSV" (the list view's own filtered,
sorted queryset, read in chunks).
"""

import csv
import re
from collections.abc import Callable, Iterable

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows a list's export reads from the database at a time (``QuerySet.iterator(chunk_size=…)``).
EXPORT_CHUNK = 2000
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(text: str) -> str:
    """The text as a cell no spreadsheet evaluates."""
    if text[:1] == "'" or (text[:1] in FORMULA_STARTS and not _NUMBER.fullmatch(text)):
        return f"'{text}"
    return text


def safe_row(cells: Iterable[str]) -> list[str]:
    """A row of text cells, each made safe (``safe_cell``)."""
    return [safe_cell(cell) for cell in cells]


def unescape_cell(text: str) -> str:
    """The text ``safe_cell`` was given (a cell of this app's own CSV export)."""
    if text[:1] == "'" and text[1:2] in (*FORMULA_STARTS, "'"):
        return text[1:]
    return text


class _Echo:
    """A file-like object for ``csv.writer`` that hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _text(value) -> str:
    return "" if value is None else str(value)


def csv_download(filename: str, header: Iterable[str], rows: Iterable[Iterable]):
    """A streamed CSV attachment: the header, then each row's cells as safe text (None is
    empty). ``rows`` should be lazy (a queryset's ``iterator(chunk_size=…)``)."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(list(header))
        for row in rows:
            yield writer.writerow(safe_row(_text(cell) for cell in row))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def queryset_download(filename: str, header: Iterable[str], queryset, row: Callable):
    """A list's export: ``row(obj)`` of each object of the (filtered, sorted) queryset, read
    ``EXPORT_CHUNK`` rows at a time (its prefetches too: one query per chunk)."""
    return csv_download(filename, header, map(row, queryset.iterator(chunk_size=EXPORT_CHUNK)))
