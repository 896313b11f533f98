from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from allora.management.dates import today_argument, today_from
from billing.services import fill_monthly_amounts
from demo import agreements as agreements_demo
from demo import billing as billing_demo
from demo import customers as customers_demo
from demo import people as people_demo
from demo import projects as projects_demo
from demo import scheduling as scheduling_demo
from demo import service as service_demo


class Command(BaseCommand):
    help = "Load the demo business (idempotent: a second run changes nothing)."

    def add_arguments(self, parser):
        today_argument(parser)

    @transaction.atomic
    def handle(self, *args, **options):
        today = today_from(options)
        people = people_demo.seed(today=today)
        admin = people["admin@allora.example"]
        customers = customers_demo.seed(today=today)
        billing_demo.seed(today=today, admin=admin)
        agreements_demo.seed(
            today=today, admin=admin, staff=people["marcus@allora.example"], customers=customers
        )
        scheduling_demo.seed(
            today=today,
            technicians=[people["marcus@allora.example"], people["priya@allora.example"]],
        )
        billing_demo.seed_invoices(today=today, staff=people["marcus@allora.example"])
        fill_monthly_amounts()  # what the nightly job does for the terms created above
        service_demo.seed(now=timezone.now(), technician=people["marcus@allora.example"])
        projects_demo.seed(today=today, now=timezone.now(), staff=people["marcus@allora.example"])
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({len(customers)} customers)."))
        self.stdout.write(
            f"Sign in at http://127.0.0.1:8000/ with password {people_demo.DEMO_PASSWORD}"
        )
        self.stdout.write("  admin:    admin@allora.example")
        self.stdout.write("  staff:    marcus@allora.example, priya@allora.example")
        for customer in customers.values():
            for user in customer.users.all():
                if user.has_usable_password():  # invited signers choose their own password
                    self.stdout.write(f"  customer: {user.email} ({customer})")
