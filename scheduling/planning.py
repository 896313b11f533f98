"""Planning: the visits of a term as rows, and the changes that touch a whole series.

`plan_terms` is set-based: a handful of queries and one bulk insert whatever the number of
terms, lines and visits. Each visit's key (line, term, series, occurrence_start) is unique in
the database, so planning again — or twice at once — creates nothing twice, and completed or
cancelled visits are never touched.
"""

import datetime as dt
import operator
from collections import defaultdict
from dataclasses import dataclass, field
from functools import reduce
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from agreements.models import Agreement, ServiceKind, ServiceLine, Term
from allora.batches import insert_new
from allora.models import User

from . import recurrence
from .business_days import holiday_dates, next_business_day
from .conflicts import VisitConflict, find_clashes, split_clashes
from .models import (
    HolidayPolicy,
    LineAssignment,
    ScheduleChange,
    SchedulingSettings,
    Visit,
)

SCHEDULED_KINDS = (ServiceKind.MAINTENANCE, ServiceKind.PRESCHEDULED)
# Holidays are looked up this far past the term's end, for a visit pushed over the edge.
_HOLIDAY_MARGIN = dt.timedelta(days=31)


@dataclass(frozen=True)
class Segment:
    """One rule of a line over [start, end): the line's own (series 0) or a schedule change."""

    series: int
    rrule: str
    start_time: dt.time
    duration_minutes: int
    start: dt.date
    end: dt.date


def segments(line, changes, *, start: dt.date, end: dt.date) -> list[Segment]:
    """The rules in force for `line` over [start, end), given its changes sorted by date."""
    rules = [(start, 0, line.rrule, line.start_time, line.duration_minutes)]
    for change in changes:
        rules.append(
            (
                max(start, change.effective_from),
                change.series,
                change.rrule,
                change.start_time,
                change.duration_minutes,
            )
        )
    found = []
    for index, (since, series, rrule, start_time, minutes) in enumerate(rules):
        until = rules[index + 1][0] if index + 1 < len(rules) else end
        until = min(until, end)
        if since < until:
            found.append(Segment(series, rrule, start_time, minutes, since, until))
    return found


def plan_term(term, *, today: dt.date | None = None) -> int:
    """Create the visits of every scheduled line of term.version for [term.start, term.end);
    returns how many were created. Idempotent."""
    return plan_terms([term], today=today)


@transaction.atomic
def plan_terms(terms, *, today: dt.date | None = None, skip=(), lines=None) -> int:
    """Set-based planning for many terms at once; skips visits before local date `today` and
    the keys (line id, term id, series, occurrence_start) in `skip` (already done elsewhere).

    ``lines``: the service lines of the terms' versions, just written and still in memory (an
    import): then the terms are taken as given (saved, each once, with their agreement) and
    neither they nor the lines are read again. Otherwise both are read."""
    term_ids = [term.pk for term in terms]
    if not term_ids:
        return 0
    if lines is None:
        terms = list(Term.objects.filter(pk__any=term_ids).select_related("agreement"))
        lines = ServiceLine.objects.filter(
            version_id__any={term.version_id for term in terms}, kind__in=SCHEDULED_KINDS
        ).exclude(rrule="")
    else:  # in the order they are read in: the visits are written in the same order
        terms = sorted(terms, key=lambda term: (term.agreement_id, term.number))
        lines = sorted(
            (line for line in lines if line.kind in SCHEDULED_KINDS and line.rrule),
            key=lambda line: (line.position, line.pk),
        )
    lines_by_version = defaultdict(list)
    for line in lines:
        lines_by_version[line.version_id].append(line)
    line_ids = [line.pk for lines in lines_by_version.values() for line in lines]
    changes = defaultdict(list)
    for change in ScheduleChange.objects.filter(line_id__any=line_ids).order_by(
        "effective_from", "series"
    ):
        changes[change.line_id].append(change)
    defaults = dict(
        LineAssignment.objects.filter(line_id__any=line_ids).values_list("line_id", "technician_id")
    )
    existing = set(
        Visit.objects.filter(term_id__any=term_ids).values_list(
            "line_id", "term_id", "series", "occurrence_start"
        )
    ) | set(skip)
    holidays = holiday_dates(
        min(term.start for term in terms), max(term.end for term in terms) + _HOLIDAY_MARGIN
    )
    policy = SchedulingSettings.load().holiday_policy
    now = timezone.now()

    new = []
    for term in terms:
        for line in lines_by_version[term.version_id]:
            for segment in segments(line, changes[line.pk], start=term.start, end=term.end):
                new += _visits(
                    term, line, segment, existing, holidays, policy, today, defaults, now
                )
    _unassign_clashes(new)
    insert_new(new)
    return len(new)


def _visits(term, line, segment, existing, holidays, policy, today, defaults, now):
    tz_name = term.agreement.time_zone
    zone = ZoneInfo(tz_name)
    checklist = (
        [{"item": item, "done": False} for item in line.checklist]
        if line.kind == ServiceKind.MAINTENANCE
        else []
    )
    found = []
    for starts_at, ends_at in recurrence.occurrences(
        segment.rrule,
        start_time=segment.start_time,
        duration_minutes=segment.duration_minutes,
        tz=tz_name,
        start=segment.start,
        end=segment.end,
        # A day's margin: the local date of a time a daylight-saving gap moves past midnight
        # is the next day's.
        since=today - dt.timedelta(days=1) if today is not None else None,
    ):
        if (line.pk, term.pk, segment.series, starts_at) in existing:
            continue
        local = starts_at.astimezone(zone)
        if today is not None and local.date() < today:
            continue
        visit = _new_visit(
            agreement_id=term.agreement_id,
            term_id=term.pk,
            line_id=line.pk,
            series=segment.series,
            occurrence_start=starts_at,
            starts_at=starts_at,
            ends_at=ends_at,
            technician_id=defaults.get(line.pk),
            checklist=[dict(entry) for entry in checklist],
            updated_at=now,
        )
        holiday = holidays.get(local.date())
        if holiday and policy == HolidayPolicy.MOVE:
            day = next_business_day(local.date(), set(holidays))
            moved = dt.datetime.combine(day, local.time().replace(tzinfo=None)).replace(tzinfo=zone)
            visit.starts_at = moved.astimezone(dt.UTC)
            visit.ends_at = visit.starts_at + (ends_at - starts_at)
            visit.note = f"Moved from {local:%a %b %-d} ({holiday})"
        elif holiday:
            visit.flag = Visit.Flag.HOLIDAY
            visit.note = f"{holiday}: staff to decide"
        found.append(visit)
    return found


def _new_visit(**values) -> Visit:
    """``Visit(**values)``, built the way Django builds a row it reads (every field in order,
    the others their defaults): Model.__init__'s quick path, 40% less time for the tens of
    thousands of visits an import or a renewal run plans."""
    return Visit(
        *[
            values[field.attname] if field.attname in values else field.get_default()
            for field in Visit._meta.concrete_fields
        ]
    )


def _unassign_clashes(new_visits):
    """New visits whose default technician is busy stay unassigned and flagged for staff."""
    by_technician = defaultdict(list)
    for index, visit in enumerate(new_visits):
        if visit.technician_id:
            by_technician[visit.technician_id].append(index)
    if not by_technician:
        return
    low = min(new_visits[i].starts_at for indexes in by_technician.values() for i in indexes)
    high = max(new_visits[i].ends_at for indexes in by_technician.values() for i in indexes)
    busy = defaultdict(list)
    for technician_id, starts_at, ends_at in (
        Visit.objects.active()
        .filter(technician_id__in=list(by_technician))
        .overlapping(low, high)
        .values_list("technician_id", "starts_at", "ends_at")
    ):
        busy[technician_id].append((starts_at, ends_at))
    for technician_id, indexes in by_technician.items():
        candidates = [(i, new_visits[i].starts_at, new_visits[i].ends_at) for i in indexes]
        for index in split_clashes(candidates, busy[technician_id]):
            visit = new_visits[index]
            visit.technician_id = None
            visit.flag = Visit.Flag.CONFLICT
            visit.note = "The line's technician is busy at this time: assign someone else"


def _local_midnight(day: dt.date, tz_name: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min).replace(tzinfo=ZoneInfo(tz_name))


def cancel_future_visits(agreement, *, after: dt.date) -> int:
    """Cancel the agreement's open visits on or after local date `after`; completed ones stay."""
    return (
        Visit.objects.open()
        .filter(agreement=agreement, starts_at__gte=_local_midnight(after, agreement.time_zone))
        .update(
            status=Visit.Status.CANCELLED,
            note="The agreement ended",
            sequence=F("sequence") + 1,
            updated_at=timezone.now(),
        )
    )


@dataclass
class AssignResult:
    assigned: int = 0
    clashing: list = field(default_factory=list)  # [(visit, [visits in the way])]


def _upcoming(line, *, today: dt.date):
    """The line's open visits from the start of `today` in the customer's zone."""
    midnight = _local_midnight(today, line.version.agreement.time_zone)
    return Visit.objects.open().filter(line=line, starts_at__gte=midnight)


def clashes_for(visits, technician, *, line) -> list:
    """[(visit, [visits in the way])] of `visits` that would double-book `technician`, counting
    only their visits of other lines (the line's own are what is being (re)planned). Two
    queries whatever the number of visits; nothing is written."""
    if not visits or technician is None:
        return []
    low, high = min(v.starts_at for v in visits), max(v.ends_at for v in visits)
    busy = list(
        Visit.objects.active()
        .filter(technician=technician)
        .overlapping(low, high)
        .exclude(line=line)
        .for_display()
        .order_by("starts_at", "pk")
    )
    clashing = split_clashes(
        [(v.pk, v.starts_at, v.ends_at) for v in visits], [(b.starts_at, b.ends_at) for b in busy]
    )
    return [
        (v, [b for b in busy if b.starts_at < v.ends_at and b.ends_at > v.starts_at])
        for v in visits
        if v.pk in clashing
    ]


def preview_assignment(line, *, technician, today: dt.date) -> tuple[int, list]:
    """What `assign_line` would do, without doing it: (upcoming visits it would take, the
    clashing ones with the visits in the way)."""
    visits = list(_upcoming(line, today=today).exclude(technician=technician).for_display())
    return len(visits), clashes_for(visits, technician, line=line)


@transaction.atomic
def assign_line(line, *, technician, by, today: dt.date) -> AssignResult:
    """Make `technician` the line's default and give them its open visits from `today` on.

    A visit that would double-book them keeps its current technician (or none, flagged) and
    is reported with the visits in the way; staff resolve them together (`resolve_visits`)."""
    technician = User.objects.select_for_update().get(pk=technician.pk)  # one booking at a time
    LineAssignment.objects.update_or_create(
        line=line,
        defaults={"technician": technician, "assigned_by": by, "assigned_at": timezone.now()},
    )
    visits = list(_upcoming(line, today=today).exclude(technician=technician).for_display())
    result = AssignResult()
    if not visits:
        return result
    result.clashing = clashes_for(visits, technician, line=line)
    clashing = {visit.pk for visit, _ in result.clashing}
    free = [v.pk for v in visits if v.pk not in clashing]
    now = timezone.now()
    result.assigned = Visit.objects.filter(pk__in=free).update(
        technician=technician, sequence=F("sequence") + 1, updated_at=now
    )
    Visit.objects.filter(pk__in=free, flag=Visit.Flag.CONFLICT).update(flag="", note="")
    Visit.objects.filter(pk__in=clashing, technician__isnull=True).update(
        flag=Visit.Flag.CONFLICT, note=f"{technician} is busy at this time: assign someone else"
    )
    return result


# At most this many visits are resolved in one go (a year of weekly visits fits).
RESOLVE_LIMIT = 100


def visits_to_resolve(line, *, today: dt.date) -> list:
    """The line's upcoming visits that have no technician because the default one was busy."""
    return list(
        _upcoming(line, today=today)
        .filter(flag=Visit.Flag.CONFLICT)
        .for_display()
        .order_by("starts_at", "pk")[:RESOLVE_LIMIT]
    )


@dataclass
class ResolveResult:
    done: list = field(default_factory=list)  # visits now booked
    still: list = field(default_factory=list)  # [(visit, why not: a message)]


def resolve_visits(
    line, visit_ids, *, technician, start_time: dt.time | None, now, today: dt.date
) -> ResolveResult:
    """Resolve the chosen visits of `line` at once: give them to `technician`, at their own
    time or, with `start_time`, at that local time on each one's day (same length). A visit
    that would still double-book someone, or would move into the past, is left as it is and
    reported; the others are booked (each visit in its own savepoint, through the same rules
    as moving one visit)."""
    if technician is None:
        raise ValidationError("Pick the technician who takes these visits.")
    chosen = set(visit_ids)
    visits = [v for v in visits_to_resolve(line, today=today) if v.pk in chosen]
    if not visits:
        raise ValidationError("Choose at least one visit that still needs a technician.")
    result = ResolveResult()
    for visit in visits:
        starts_at, ends_at = visit.starts_at, visit.ends_at
        if start_time is not None:
            starts_at = recurrence.local_to_utc(visit.local_start.date(), start_time, visit.tz)
            ends_at = starts_at + (visit.ends_at - visit.starts_at)
        try:
            with transaction.atomic():
                reschedule_visit(
                    visit, starts_at=starts_at, ends_at=ends_at, technician=technician, now=now
                )
        except VisitConflict as conflict:
            in_the_way = "; ".join(
                f"{other.agreement.customer} {other.local_label}" for other in conflict.clashes
            )
            result.still.append((visit, f"{technician} is busy then: {in_the_way}"))
        except ValidationError as error:
            result.still.append((visit, " ".join(error.messages)))
        else:
            result.done.append(visit)
    return result


@transaction.atomic
def reschedule_visit(visit, *, starts_at, ends_at, technician, now) -> Visit:
    """Move one visit and/or give it to another technician; the series stays as it is.

    Raises ValidationError for a change that makes no sense and VisitConflict when the
    technician is busy then."""
    visit = (
        Visit.objects.select_for_update(of=("self",))
        .select_related("agreement__customer", "technician")
        .get(pk=visit.pk)
    )
    if visit.status == Visit.Status.COMPLETED:
        raise ValidationError("This visit is completed; it can no longer be changed.")
    if visit.status == Visit.Status.CANCELLED:
        raise ValidationError("This visit is cancelled; it can no longer be changed.")
    if ends_at <= starts_at:
        raise ValidationError("The end must be after the start.")
    moves = (starts_at, ends_at) != (visit.starts_at, visit.ends_at)
    if moves and starts_at < now:
        raise ValidationError("A visit cannot be moved into the past; pick a later time.")
    if technician is not None:
        # Locking the technician's row serializes bookings: two staff cannot book the same
        # slot for them at once.
        technician = User.objects.select_for_update().get(pk=technician.pk)
        clashes = find_clashes(technician, starts_at, ends_at, exclude=visit)
        if clashes:
            raise VisitConflict(technician, clashes)
    changed = moves or technician != visit.technician
    if not changed:
        return visit
    if moves:
        visit.status = Visit.Status.MOVED
        visit.note = f"Moved from {visit.local_label}"[:200]
        if visit.flag == Visit.Flag.HOLIDAY:
            visit.flag = Visit.Flag.NONE
    if technician is not None and visit.flag == Visit.Flag.CONFLICT:
        visit.flag = Visit.Flag.NONE
    visit.starts_at, visit.ends_at, visit.technician = starts_at, ends_at, technician
    visit.sequence += 1
    visit.updated_at = now
    visit.save(
        update_fields=[
            "starts_at",
            "ends_at",
            "technician",
            "status",
            "flag",
            "note",
            "sequence",
            "updated_at",
        ]
    )
    return visit


@dataclass
class ChangeResult:
    replaced: int
    created: int
    needs_technician: list


@transaction.atomic
def change_schedule(
    line, *, effective_from, rrule, start_time, duration_minutes, schedule_text, by, today
) -> ChangeResult:
    """A new rule for `line` from local date `effective_from` on: its open visits from that day
    are cancelled and re-planned with the new rule; completed visits never change."""
    agreement = Agreement.objects.select_for_update().get(pk=line.version.agreement_id)
    if not agreement.is_live:
        raise ValidationError("Only the schedule of an active agreement can change.")
    if effective_from < today:
        raise ValidationError("The new schedule must start today or later, not in the past.")
    terms = list(Term.objects.filter(version_id=line.version_id, end__gt=effective_from))
    if not terms:
        raise ValidationError("No term of this agreement covers that date.")
    try:
        recurrence.validate_rule(
            rrule,
            start_time=start_time,
            duration_minutes=duration_minutes,
            tz=agreement.time_zone,
            start=effective_from,
        )
    except recurrence.RecurrenceError as error:
        raise ValidationError(str(error)) from error
    last = line.schedule_changes.order_by("-series").values_list("series", flat=True).first()
    ScheduleChange.objects.create(
        line=line,
        series=(last or 0) + 1,
        effective_from=effective_from,
        rrule=rrule,
        start_time=start_time,
        duration_minutes=duration_minutes,
        schedule_text=schedule_text,
        created_by=by,
    )
    since = _local_midnight(effective_from, agreement.time_zone)
    replaced = (
        Visit.objects.open()
        .filter(line=line, starts_at__gte=since)
        .update(
            status=Visit.Status.CANCELLED,
            note=f"Replaced by the new schedule from {effective_from:%b %-d, %Y}",
            sequence=F("sequence") + 1,
            updated_at=timezone.now(),
        )
    )
    created = plan_terms(terms, today=effective_from)
    needs_technician = list(
        Visit.objects.open()
        .filter(line=line, starts_at__gte=since, flag=Visit.Flag.CONFLICT)
        .for_display()
    )
    return ChangeResult(replaced=replaced, created=created, needs_technician=needs_technician)


@dataclass
class AmendmentReplan:
    kept: int = 0
    cancelled: int = 0
    planned: int = 0

    @property
    def message(self):
        return (
            f"Visits re-planned for amendment: {self.kept} kept, {self.cancelled} cancelled, "
            f"{self.planned} planned"
        )


def _schedule_of(line_or_change):
    return (line_or_change.rrule, line_or_change.start_time, line_or_change.duration_minutes)


@transaction.atomic
def replan_for_amendment(agreement, *, version, effective: dt.date) -> AmendmentReplan:
    """Give the visits of the terms running on or after local date `effective` to the amendment
    `version` that takes effect that day.

    A line the amendment continues (its copy's `replaces`) with the same kind and schedule keeps
    its open visits from `effective` on: the same rows (technicians, moves) now on the new line.
    The open visits of every other old line from that day are cancelled. Then the terms apply the
    new version and its new or re-scheduled lines get their visits from `effective`. Completed
    visits never change. A fixed number of queries whatever the number of terms, lines and visits;
    a second run changes nothing (the terms already apply `version`)."""
    result = AmendmentReplan()
    terms = list(agreement.terms.filter(end__gt=effective).exclude(version=version))
    if not terms:
        return result
    term_ids = [term.pk for term in terms]
    tz_name = agreement.time_zone
    zone = ZoneInfo(tz_name)
    since = _local_midnight(effective, tz_name)
    now = timezone.now()
    old_lines = {
        line.pk: line
        for line in ServiceLine.objects.filter(version_id__in={term.version_id for term in terms})
    }
    in_force = {}  # old line id → the rule in force at the end (the last in `segments` order)
    for change in ScheduleChange.objects.filter(line_id__in=list(old_lines)).order_by(
        "effective_from", "series"
    ):
        in_force[change.line_id] = change
    successors, continued = {}, {}  # old line id → new line; → (new line, series of its visits)
    for line in version.lines.all():
        old = old_lines.get(line.replaces_id)
        if old is None or old.kind != line.kind or old.pk in successors:
            continue
        successors[old.pk] = line
        rule = in_force.get(old.pk, old)
        if line.is_scheduled and line.rrule and _schedule_of(line) == _schedule_of(rule):
            continued[old.pk] = (line, getattr(rule, "series", 0))

    # The continued lines' visits from `effective`: those the new rule has (by occurrence, as
    # plan_terms would key them) and those moved from before that day to after it.
    repoint, done = [], []
    for term in terms:
        for old_pk, (line, series) in continued.items():
            if old_lines[old_pk].version_id != term.version_id:
                continue
            starts = [
                starts_at
                for starts_at, _ in recurrence.occurrences(
                    line.rrule,
                    start_time=line.start_time,
                    duration_minutes=line.duration_minutes,
                    tz=tz_name,
                    start=term.start,
                    end=term.end,
                )
                if starts_at.astimezone(zone).date() >= effective
            ]
            repoint.append(
                Q(term_id=term.pk, line_id=old_pk, series=series)
                & (
                    Q(occurrence_start__in=starts)
                    | Q(occurrence_start__lt=since, starts_at__gte=since)
                )
            )
            done.append(Q(term_id=term.pk, line_id=old_pk, occurrence_start__in=starts))
    skip = set()
    if repoint:
        to_new = Case(
            *[When(line_id=old_pk, then=Value(line.pk)) for old_pk, (line, _) in continued.items()]
        )
        moved = reduce(operator.or_, repoint)
        result.kept = (
            Visit.objects.open().filter(moved).update(line_id=to_new, series=0, updated_at=now)
        )
        # A visit cancelled on its own stays cancelled: moved along, so it is not planned again.
        Visit.objects.filter(moved, status=Visit.Status.CANCELLED).update(line_id=to_new, series=0)
        # A visit already done from `effective` on (e.g. this morning) is not planned again.
        skip = {
            (continued[line_id][0].pk, term_id, 0, occurrence_start)
            for term_id, line_id, occurrence_start in Visit.objects.filter(
                reduce(operator.or_, done), status=Visit.Status.COMPLETED
            ).values_list("term_id", "line_id", "occurrence_start")
        }
    result.cancelled = (
        Visit.objects.open()
        .filter(term_id__in=term_ids, line_id__in=list(old_lines), starts_at__gte=since)
        .update(
            status=Visit.Status.CANCELLED,
            note=f"Replaced by amendment (version {version.number})",
            sequence=F("sequence") + 1,
            updated_at=now,
        )
    )
    # The default technician goes with the service, re-scheduled or not.
    assignments = {
        assignment.line_id: assignment
        for assignment in LineAssignment.objects.filter(
            line_id__in=[*successors, *(line.pk for line in successors.values())]
        )
    }
    LineAssignment.objects.bulk_create(
        [
            LineAssignment(
                line=line,
                technician_id=assignments[old_pk].technician_id,
                assigned_by_id=assignments[old_pk].assigned_by_id,
                assigned_at=assignments[old_pk].assigned_at,
            )
            for old_pk, line in successors.items()
            if old_pk in assignments and line.pk not in assignments
        ]
    )
    # The new version's lines price the terms from now on: their stored monthly amount is
    # computed again (billing.services.fill_monthly_amounts).
    Term.objects.filter(pk__in=term_ids).update(version=version, monthly_amount=None)
    result.planned = plan_terms(terms, today=effective, skip=skip)
    return result


def apply_holidays(*, today: dt.date) -> int:
    """Apply the holiday rule to open visits from `today` on that sit on a company holiday
    added after they were planned (moved visits are left where staff put them)."""
    holidays = holiday_dates(today, today + dt.timedelta(days=800))
    if not holidays:
        return 0
    policy = SchedulingSettings.load().holiday_policy
    near = Q()
    for day in holidays:
        # A wide UTC window around the date; the exact local date is checked below.
        start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC) - dt.timedelta(days=1)
        near |= Q(starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=3))
    changed = 0
    candidates = Visit.objects.filter(near, status=Visit.Status.SCHEDULED, flag="")
    for visit in candidates.select_related("agreement"):
        local = visit.local_start
        name = holidays.get(local.date())
        if name is None or local.date() < today:
            continue
        if policy == HolidayPolicy.MOVE:
            day = next_business_day(local.date(), set(holidays))
            moved = dt.datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=visit.tz)
            duration = visit.ends_at - visit.starts_at
            visit.starts_at = moved.astimezone(dt.UTC)
            visit.ends_at = visit.starts_at + duration
            visit.note = f"Moved from {local:%a %b %-d} ({name})"
            if visit.technician_id and find_clashes(
                visit.technician, visit.starts_at, visit.ends_at, exclude=visit
            ):
                visit.technician = None
                visit.flag = Visit.Flag.CONFLICT
        else:
            visit.flag = Visit.Flag.HOLIDAY
            visit.note = f"{name}: staff to decide"
        visit.sequence += 1
        visit.updated_at = timezone.now()
        visit.save()
        changed += 1
    return changed
