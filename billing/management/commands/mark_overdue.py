from allora.management.dates import JobCommand
from billing import invoicing


class Command(JobCommand):
    help = "Daily job (also run by Celery beat): see billing.invoicing.mark_overdue."
    done = "Invoices marked overdue"

    def run(self, today):
        return invoicing.mark_overdue(today=today)
