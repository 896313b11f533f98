import datetime as dt

from celery import shared_task

from allora.timeutils import local_today

from . import invoicing, projects, services
from .documents import send_invoice_email


def _date(today):
    return dt.date.fromisoformat(today) if today else local_today()


@shared_task
def issue_invoices(today=None):
    """Daily: issue the monthly invoices due, then the project invoices due (catch-up safe;
    ``today`` as YYYY-MM-DD)."""
    day = _date(today)
    monthly = invoicing.issue_invoices(today=day)
    return [invoice.number for invoice in [*monthly, *projects.issue_project_invoices(today=day)]]


@shared_task
def mark_overdue(today=None):
    """Daily: issued invoices past their due date become overdue."""
    return invoicing.mark_overdue(today=_date(today))


@shared_task
def fill_monthly_amounts():
    """Daily: store the monthly amount of every term that has none yet (new, imported or
    amended terms), for the staff home's revenue series."""
    return services.fill_monthly_amounts()


@shared_task
def email_invoice(invoice_id):
    """Email one invoice with its PDF to the customer's billing contacts (once)."""
    return send_invoice_email(invoice_id)
