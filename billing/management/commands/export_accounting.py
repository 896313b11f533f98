"""export_accounting --format quickbooks|xero --kind invoices|credit-notes|payments
--from YYYY-MM-DD --to YYYY-MM-DD [--output FILE]: the file QuickBooks Online or Xero imports
(billing.bookkeeping), to FILE or to standard output. A bad range writes nothing."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from allora.management.dates import parse_date
from billing import bookkeeping


class Command(BaseCommand):
    help = (
        "Export invoices, credit notes or payments of a date range for QuickBooks Online or Xero."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=list(bookkeeping.FORMATS))
        parser.add_argument("--kind", required=True, choices=list(bookkeeping.KINDS))
        parser.add_argument("--from", dest="start", required=True, type=parse_date)
        parser.add_argument("--to", dest="end", required=True, type=parse_date)
        parser.add_argument("--output", help="The CSV file to write (default: standard output).")

    def handle(self, *args, format, kind, start, end, output=None, **options):
        try:
            bookkeeping.check_range(start, end)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        lines = bookkeeping.csv_lines(bookkeeping.export_rows(format, kind, start=start, end=end))
        if not output:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        try:
            with open(output, "w", encoding="utf-8", newline="") as file:
                count = -1  # the header is no row
                for line in lines:
                    file.write(line)
                    count += 1
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}.") from None
        self.stderr.write(
            self.style.SUCCESS(f"{bookkeeping.FORMATS[format]} {kind}: {count} rows in {output}")
        )
