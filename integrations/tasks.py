from celery import shared_task
from django.utils import timezone

from . import webhooks


@shared_task
def deliver_webhook(delivery_id):
    """Send one webhook delivery if it is due (a second run, or a second worker, sends
    nothing: the attempt is claimed with a conditional UPDATE)."""
    delivery = webhooks.deliver(delivery_id, now=timezone.now())
    return delivery.status if delivery else None


@shared_task
def send_due_webhooks():
    """Every minute, and after each commit that emits events: queue the deliveries due (new
    ones and retries whose backoff has passed). Safe to run again or concurrently."""
    due = webhooks.due_delivery_ids(now=timezone.now())
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
