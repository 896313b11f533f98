"""The ``--today YYYY-MM-DD`` option every job's command twin takes."""

import argparse
import datetime as dt

from django.core.management.base import BaseCommand

from allora.timeutils import local_today
from allora.validation import DATE_RANGE_MESSAGE, date_in_range


def parse_date(value):
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date; use YYYY-MM-DD.") from None
    if not date_in_range(day):
        raise argparse.ArgumentTypeError(f"'{value}': {DATE_RANGE_MESSAGE}")
    return day


def today_argument(parser):
    parser.add_argument(
        "--today",
        type=parse_date,
        help="Act as if today were this date (YYYY-MM-DD); default: today in New York.",
    )


def today_from(options) -> dt.date:
    return options.get("today") or local_today()


class JobCommand(BaseCommand):
    """A daily job's command twin: ``--today YYYY-MM-DD`` runs it as of that date."""

    def add_arguments(self, parser):
        today_argument(parser)

    def handle(self, *args, **options):
        today = today_from(options)
        result = self.run(today)
        count = len(result) if hasattr(result, "__len__") else result
        self.stdout.write(self.style.SUCCESS(f"{self.done} as of {today}: {count}"))

    def run(self, today):
        raise NotImplementedError
