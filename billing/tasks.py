import datetime as dt

from celery import shared_task

from allora.timeutils import local_today

from . import invoicing, projects, receivables, services

# billing.documents (and with it WeasyPrint, a second or so to import) is imported inside the
# tasks that send documents: an import or an agreement change that only queues
# fill_monthly_amounts need not load it.


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
    from .documents import send_invoice_email

    return send_invoice_email(invoice_id)


@shared_task
def send_payment_reminders(today=None):
    """Daily: each payment reminder step due, once per open invoice (catch-up safe)."""
    return receivables.send_payment_reminders(today=_date(today))


@shared_task
def email_payment_reminder(invoice_id, steps, today):
    """Email one invoice's payment reminder (the steps one run claimed for it)."""
    return receivables.send_reminder_email(invoice_id, steps, dt.date.fromisoformat(today))


@shared_task
def resend_invoice_email(event_id):
    """Email an invoice again, as staff asked (its "resent" timeline event)."""
    from . import documents

    return documents.send_invoice_again(event_id)


@shared_task
def email_credit_note(credit_note_id):
    """Email one credit note with its PDF to the customer's billing contacts (once)."""
    from . import documents

    return documents.send_credit_note_email(credit_note_id)
