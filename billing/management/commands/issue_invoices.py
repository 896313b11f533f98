from allora.management.dates import JobCommand
from billing import invoicing, projects


class Command(JobCommand):
    help = (
        "Daily job (also run by Celery beat): the monthly invoices due "
        "(billing.invoicing.issue_invoices), then the project invoices due "
        "(billing.projects.issue_project_invoices)."
    )
    done = "Invoices issued"

    def run(self, today):
        monthly = invoicing.issue_invoices(today=today)
        return [*monthly, *projects.issue_project_invoices(today=today)]
