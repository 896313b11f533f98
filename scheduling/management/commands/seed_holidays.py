import argparse

from django.core.management.base import BaseCommand

from allora.management.dates import today_argument, today_from
from scheduling.business_days import seed_holidays
from scheduling.planning import apply_holidays


def _year(value):
    if not value.isdigit() or not 2000 <= int(value) <= 2100:
        raise argparse.ArgumentTypeError(f"'{value}' is not a year between 2000 and 2100.")
    return int(value)


class Command(BaseCommand):
    help = (
        "Add the US federal holidays of the given years (default: this year and the next two) "
        "to the company holidays, then apply the holiday rule to visits already planned on them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--years", nargs="+", type=_year, metavar="YEAR")
        today_argument(parser)

    def handle(self, *args, **options):
        today = today_from(options)
        years = options["years"] or [today.year, today.year + 1, today.year + 2]
        added = seed_holidays(years)
        moved = apply_holidays(today=today)
        self.stdout.write(
            self.style.SUCCESS(
                f"{added} holidays added for {', '.join(map(str, years))}; "
                f"{moved} planned visits updated."
            )
        )
