"""The staff home's costly figures, stored (issue 14): computed at most once per REFRESH_EVERY.

The revenue series sums 30,000 terms, utilization eight weeks of visits, the clash count scans
the visits still to come: together ~100 ms at 10,000 agreements, on every visit of the staff home.
They are computed by the live functions (allora/dashboard.py, allora/queues.py), stored as one
JSON row (FigureSnapshot "staff") with the moment they were computed, and read back in one query.

Who computes them:
- the beat job ``allora.tasks.refresh_staff_figures``, every REFRESH_EVERY;
- the staff home itself when the row is missing, older than REFRESH_EVERY or of another day
  (no worker running): one request does it under a row lock; the others meanwhile show the
  figures they have (or, when there are none yet, wait for that one request);
- staff, with the page's "Refresh" button.

So what changes them (an agreement signed, renewed or ended, a visit assigned or moved, an
emergency request answered) shows at most REFRESH_EVERY later, and the page says as of when.
"""

import datetime as dt
import json
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from . import dashboard, queues
from .models import FigureSnapshot, Heartbeat
from .statements import Read
from .timeutils import local_today

STAFF = "staff"
REFRESH_EVERY = dt.timedelta(minutes=5)
FORMAT = 1  # stored figures of another format are computed again
NEVER = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def compute_staff_figures(*, today: dt.date, now: dt.datetime, tz) -> dict:
    """The stored figures, computed live (JSON-ready apart from dates and decimals, which the
    model's encoder writes as ISO text)."""
    utilization = dashboard.utilization(today=today, tz=tz)
    return {
        "format": FORMAT,
        "today": today,
        "tz": str(tz),
        "mrr": dashboard.mrr_series(today=today),
        "sla": dashboard.sla_by_month(today=today, tz=tz),
        "utilization": {
            **utilization,
            "rows": [
                {"technician": str(row["technician"]), "weeks": row["weeks"]}
                for row in utilization["rows"]
            ],
        },
        "clashing_visits": queues.count_clashing_visits(now=now),
    }


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def decode(figures: dict) -> dict:
    """The stored JSON back in the shapes the live functions return (dates, decimals)."""
    mrr, utilization = figures["mrr"], figures["utilization"]
    return {
        "mrr": {
            "current": Decimal(mrr["current"]),
            "series": [
                {"month": _date(row["month"]), "amount": Decimal(row["amount"])}
                for row in mrr["series"]
            ],
            "complete": mrr["complete"],
        },
        "sla": [{**row, "month": _date(row["month"])} for row in figures["sla"]],
        "utilization": {
            "weeks": [_date(week) for week in utilization["weeks"]],
            "current": _date(utilization["current"]),
            "rows": [
                {
                    "technician": row["technician"],
                    "weeks": [
                        {
                            "week": _date(cell["week"]),
                            "scheduled": Decimal(cell["scheduled"]),
                            "logged": Decimal(cell["logged"]),
                        }
                        for cell in row["weeks"]
                    ],
                }
                for row in utilization["rows"]
            ],
        },
        "clashing_visits": figures["clashing_visits"],
    }


def is_fresh(snapshot: FigureSnapshot, *, today: dt.date, now: dt.datetime, tz) -> bool:
    """Computed less than REFRESH_EVERY ago, for this day and time zone, in this format."""
    figures = snapshot.figures
    return (
        figures.get("format") == FORMAT
        and figures.get("today") == today.isoformat()
        and figures.get("tz") == str(tz)
        and now - REFRESH_EVERY < snapshot.computed_at <= now
    )


def refresh_staff_figures(
    *, today: dt.date, now: dt.datetime, tz, force: bool = False, wait: bool = True
) -> FigureSnapshot | None:
    """Compute the figures and store them, one computation at a time: the row stays locked
    while its figures are computed. Unless `force`, a row another computation made fresh
    meanwhile is kept as it is. Without `wait`, returns None at once when another computation
    holds the row (its figures will do)."""
    FigureSnapshot.objects.get_or_create(name=STAFF, defaults={"computed_at": NEVER})
    with transaction.atomic():
        rows = FigureSnapshot.objects.select_for_update(skip_locked=not wait)
        snapshot = rows.filter(name=STAFF).first()
        if snapshot is None:
            return None
        if force or not is_fresh(snapshot, today=today, now=now, tz=tz):
            snapshot.figures = compute_staff_figures(today=today, now=now, tz=tz)
            snapshot.computed_at = now
            snapshot.save(update_fields=["figures", "computed_at"])
            # As stored (dates and decimals as text), as any later request reads them.
            snapshot.figures = json.loads(json.dumps(snapshot.figures, cls=DjangoJSONEncoder))
        return snapshot


def refresh_staff_figures_now() -> FigureSnapshot | None:
    """The figures computed now, whatever their age (the beat job and the Refresh button)."""
    return refresh_staff_figures(
        today=local_today(), now=timezone.now(), tz=timezone.get_current_timezone(), force=True
    )


def _worker():
    return Heartbeat.objects.filter(name=Heartbeat.WORKER).values_list("last_seen", flat=True)


_STAFF_SNAPSHOT = Read(
    lambda: (
        FigureSnapshot.objects.filter(name=STAFF)
        .annotate(worker_seen=Subquery(_worker()[:1]))
        .order_by("pk")[:1]
    )
)


def staff_figures(*, today: dt.date, now: dt.datetime, tz) -> dict:
    """The stored figures, `as_of` (when they were computed) and `worker_seen` (the worker's
    last heartbeat, or None: the worker's beat job is what keeps them fresh), 1 query when
    fresh; computed first when missing or stale, see the module's docstring."""
    found = _STAFF_SNAPSHOT.run()
    snapshot = found[0] if found else None
    # Never computed yet: the heartbeat is read on its own.
    worker_seen = _worker().first() if snapshot is None else snapshot.worker_seen
    if snapshot is None or not is_fresh(snapshot, today=today, now=now, tz=tz):
        usable = snapshot is not None and snapshot.figures.get("format") == FORMAT
        snapshot = refresh_staff_figures(today=today, now=now, tz=tz, wait=not usable) or snapshot
    assert snapshot is not None  # noqa: S101 - waiting, the refresh always returns the row
    return {
        **decode(snapshot.figures),
        "as_of": timezone.localtime(snapshot.computed_at, tz),
        "worker_seen": worker_seen,
    }
