from allora.management.dates import JobCommand
from billing import invoicing


class Command(JobCommand):
    help = "Daily job (also run by Celery beat): see billing.invoicing.issue_invoices."
    done = "Invoices issued"

    def run(self, today):
        return invoicing.issue_invoices(today=today)
