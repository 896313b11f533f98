"""Celery tasks of service delivery: thin wrappers around the services (the schedule is in
``allora/celery.py``)."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from . import emergencies


@shared_task
def alert_emergency_deadlines(now=None):
    """Every minute: alert the on-call staff of emergency requests nearing or past their
    deadline. ``now`` (ISO 8601 with an offset) replays a run at a given time."""
    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    return len(emergencies.alert_emergency_deadlines(now=moment))
