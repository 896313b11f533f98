import argparse
import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from delivery.emergencies import alert_emergency_deadlines


def parse_moment(value):
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a time; use e.g. 2027-03-14T09:30-04:00."
        ) from None
    if timezone.is_naive(moment):
        raise argparse.ArgumentTypeError(f"'{value}' needs a UTC offset, e.g. -04:00 or Z.")
    return moment


class Command(BaseCommand):
    help = "Alert the on-call staff of emergency requests at 50%, 80% and breach (each once)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            type=parse_moment,
            help="Act as if it were this moment (ISO 8601, with offset).",
        )

    def handle(self, *args, **options):
        now = options.get("now") or timezone.now()
        alerts = alert_emergency_deadlines(now=now)
        self.stdout.write(
            self.style.SUCCESS(f"Emergency alerts as of {now:%Y-%m-%d %H:%M %Z}: {len(alerts)}")
        )
