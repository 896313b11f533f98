from django.core.management.base import BaseCommand

from billing import services


class Command(BaseCommand):
    # No --today: a term's monthly amount depends on its rates and lines, not on the date.
    help = "Daily job (also run by Celery beat): see billing.services.fill_monthly_amounts."

    def handle(self, *args, **options):
        count = services.fill_monthly_amounts()
        self.stdout.write(self.style.SUCCESS(f"Monthly amounts stored: {count}"))
