import datetime as dt

from celery import shared_task
from django.utils import timezone

from allora.timeutils import local_today

from . import lifecycle
from .importing import jobs
from .signing import store_signed_pdf


@shared_task
def generate_signed_pdf(version_id):
    """Render and store a signed version's final PDF (idempotent: a stored PDF stays)."""
    store_signed_pdf(version_id, today=local_today())


def _date(today):
    return dt.date.fromisoformat(today) if today else local_today()


@shared_task
def renew_agreements(today=None):
    """Daily: renew what is due (catch-up safe; ``today`` as YYYY-MM-DD for a given date)."""
    return [str(term) for term in lifecycle.renew_due_agreements(today=_date(today))]


@shared_task
def end_agreements(today=None):
    """Daily: end the agreements whose termination takes effect."""
    return lifecycle.end_due_agreements(today=_date(today))


@shared_task
def send_lifecycle_reminders(today=None):
    """Daily: renewal and notice-deadline reminders, each sent once."""
    return len(lifecycle.send_lifecycle_reminders(today=_date(today)))


@shared_task
def run_import_job(job_id):
    """Preview, or import once confirmed, an uploaded file (``importing.jobs``)."""
    jobs.run_import_job(job_id, today=local_today())


@shared_task
def remove_stale_import_jobs():
    """Daily: remove the import previews nobody confirmed within a day, with their files."""
    return jobs.remove_stale_import_jobs(now=timezone.now())
