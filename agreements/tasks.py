from celery import shared_task

from allora.timeutils import local_today

from .lifecycle import store_signed_pdf


@shared_task
def generate_signed_pdf(version_id):
    """Render and store a signed version's final PDF (idempotent: a stored PDF stays)."""
    store_signed_pdf(version_id, today=local_today())
