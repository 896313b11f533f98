"""The Celery app and the whole beat schedule, declared in one place."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "allora.settings")

app = Celery("allora")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# django-celery-beat copies these entries into its tables at start, where admins can see and
# pause them. Every business job runs once a day and is safe to run again (see README, "Jobs").
app.conf.beat_schedule = {
    "heartbeat": {"task": "allora.tasks.heartbeat", "schedule": crontab(minute="*")},
    # The staff home's costly figures (allora/snapshots.py): as stale as this at most.
    "refresh-staff-figures": {
        "task": "allora.tasks.refresh_staff_figures",
        "schedule": crontab(minute="*/5"),
    },
    # Lifecycle (agreements/lifecycle.py): renew first, then end, then remind.
    "renew-agreements": {
        "task": "agreements.tasks.renew_agreements",
        "schedule": crontab(hour=0, minute=30),
    },
    "end-agreements": {
        "task": "agreements.tasks.end_agreements",
        "schedule": crontab(hour=0, minute=45),
    },
    # Billing (billing/invoicing.py): after renewals and endings, so new terms are invoiced.
    "issue-invoices": {
        "task": "billing.tasks.issue_invoices",
        "schedule": crontab(hour=1, minute=0),
    },
    "mark-overdue": {
        "task": "billing.tasks.mark_overdue",
        "schedule": crontab(hour=1, minute=15),
    },
    # Each new, imported or amended term's stored monthly amount (billing/services.py), after
    # renewals; the staff home fills a few more itself when it finds any missing.
    "fill-monthly-amounts": {
        "task": "billing.tasks.fill_monthly_amounts",
        "schedule": crontab(hour=1, minute=30),
    },
    # Payment reminders (billing/receivables.py): each step once per open invoice, after the
    # overdue marking, at an hour customers read their mail.
    "send-payment-reminders": {
        "task": "billing.tasks.send_payment_reminders",
        "schedule": crontab(hour=8, minute=0),
    },
    # Emergency Support (delivery/emergencies.py): every minute, each alert once.
    "alert-emergency-deadlines": {
        "task": "delivery.tasks.alert_emergency_deadlines",
        "schedule": crontab(minute="*"),
    },
    # Webhooks (integrations/webhooks.py): new deliveries and retries whose backoff has passed.
    "send-due-webhooks": {
        "task": "integrations.tasks.send_due_webhooks",
        "schedule": crontab(minute="*"),
    },
    # Import previews nobody confirmed (agreements/importing/jobs.py), with their files.
    "remove-stale-import-jobs": {
        "task": "agreements.tasks.remove_stale_import_jobs",
        "schedule": crontab(hour=3, minute=30),
    },
    "send-lifecycle-reminders": {
        "task": "agreements.tasks.send_lifecycle_reminders",
        "schedule": crontab(hour=7, minute=0),
    },
}
