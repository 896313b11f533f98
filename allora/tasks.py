from celery import shared_task
from django.utils import timezone

from . import snapshots
from .models import Heartbeat


@shared_task
def ping():
    """Answer "pong": proves a worker takes tasks from the broker."""
    return "pong"


@shared_task
def heartbeat():
    """Record that beat and a worker are alive; the staff home shows the time."""
    Heartbeat.objects.update_or_create(
        name=Heartbeat.WORKER, defaults={"last_seen": timezone.now()}
    )


@shared_task
def refresh_staff_figures():
    """The staff home's stored figures computed again (allora/snapshots.py), every few minutes."""
    snapshots.refresh_staff_figures_now()
