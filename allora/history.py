"""Readable change history from django-simple-history records."""

from dataclasses import dataclass
from datetime import datetime
from itertools import chain


@dataclass
class Change:
    when: datetime
    who: object
    subject: str
    action: str
    details: str


_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}


def _changes_of(records, describe):
    records = list(records)
    # Records come newest first; each is compared with the previous record of the same object.
    previous = {}
    for record in reversed(records):
        older = previous.get(record.id)
        details = ""
        if older is not None and record.history_type == "~":
            delta = record.diff_against(older)
            details = "; ".join(
                f"{change.field.replace('_', ' ')}: {change.old or '—'} → {change.new or '—'}"
                for change in delta.changes
            )
        # A change made for a stated reason (a feed's new address) says the reason instead.
        details = getattr(record, "history_change_reason", None) or details
        previous[record.id] = record
        yield Change(
            when=record.history_date,
            who=record.history_user,
            subject=describe(record),
            action=_ACTIONS[record.history_type],
            details=details,
        )


def timeline(*sources, limit=50):
    """Merge (history queryset, describe) sources into one newest-first list of changes."""
    merged = chain.from_iterable(
        _changes_of(qs.select_related("history_user").order_by("-history_date")[:limit], describe)
        for qs, describe in sources
    )
    return sorted(merged, key=lambda change: change.when, reverse=True)[:limit]
