"""The "Waiting for you" card at the top of each home page: what each person has to act on.

A customer user: agreements awaiting their signature (an authorized signer), project estimates
awaiting their approval (a designated approver). Staff: unassigned and clashing visits,
emergencies near breach, termination requests to acknowledge, drafts not sent. Admins, besides:
countersignatures, renewal reviews due before the notice deadline, billing problems.

Each item is one query whatever the data size: its total rides along on the first few rows as a
window count (as `dashboard.billing_problems` does), or it is a plain COUNT; the renewal reviews
read their first rows, then count only when there may be more (see there). On the home pages,
the items whose rows a panel lists anyway (emergencies, terminations, projects awaiting approval,
billing problems) are told from the panel's rows, with no query of their own, when the panel
holds all of them: the panel's query marks each row and counts the matches (`marked`). An empty
item is left out; with nothing at all the card says so. The labels avoid the menu's words
("Agreements", "Emergencies"…), so that a link is found by its name alone.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Value,
    Window,
)
from django.urls import reverse

from agreements.models import Agreement, AgreementVersion, RateReview, Term, TerminationRequest
from agreements.rules import NOTICE_DAYS, RENEWAL_WINDOW
from delivery.models import EmergencyRequest, Project, ProjectEstimate
from scheduling.models import Visit

from .statements import Read, counted

FIRST = 3  # the rows each item names, with a direct link each


@dataclass(frozen=True)
class Link:
    text: str
    url: str
    action: str = ""  # the label of a direct action button ("Countersign"), else a plain link


@dataclass(frozen=True)
class Item:
    """One kind of work: how many, where the full list is, and the first few."""

    key: str
    label: str
    count: int
    url: str
    first: list[Link] = field(default_factory=list)


def _item(key, label, count, url, first=()):
    return Item(key, label, count, url, list(first)) if count else None


def _agreement_link(agreement, url_name, action=""):
    """The agreement's number and customer, linked to one of its pages."""
    return Link(
        f"{agreement.number} {agreement.customer}", reverse(url_name, args=[agreement.pk]), action
    )


def _listed(key, label, queryset, url, link, *, listed=None) -> Item | None:
    """An item from the first FIRST rows of `queryset` (each made a Link by `link`) and how many
    rows there are in all, in one query; None when there are none.

    With `listed`, a panel's rows read through `marked` with the same condition as `queryset`'s,
    no query when they hold every match: the first FIRST matches in `queryset`'s order (fields
    named in its `order_by`, ascending)."""
    if listed is not None:
        total = listed[0].queue_total if listed else 0
        matches = [row for row in listed if row.queue_match]
        if len(matches) == total:
            first = sorted(matches, key=_sort_key(queryset))[:FIRST]
            return _item(key, label, total, url, map(link, first))
    return _first_item(key, label, list(_first_rows(queryset)), url, link)


def _first_rows(queryset):
    """The first FIRST rows of ``queryset``, each with ``queue_total``: how many there are."""
    return queryset.annotate(queue_total=Window(Count("pk")))[:FIRST]


def _first_item(key, label, rows, url, link) -> Item | None:
    """An item from `_first_rows`'s rows, each made a Link by ``link``."""
    return _item(key, label, rows[0].queue_total if rows else 0, url, map(link, rows))


def _sort_key(queryset):
    """Rows in memory put in the order of `queryset`'s `order_by` (plain field names)."""
    names = queryset.query.order_by
    if not all(isinstance(name, str) and not name.startswith("-") for name in names):
        raise ValueError(f"An item told from a panel orders by ascending fields: {names}")
    return lambda row: tuple(getattr(row, name) for name in names)


def marked(queryset, condition: Q | None = None):
    """A panel's rows made usable as an item's `listed` rows: each row's `queue_match` says
    whether it meets `condition` (the item's filter; None: every row does), and its
    `queue_total` how many of all the rows do (a window count riding along)."""
    if condition is None:
        return queryset.annotate(queue_match=Value(True), queue_total=Window(Count("pk")))
    return queryset.annotate(
        queue_match=ExpressionWrapper(condition, output_field=BooleanField()),
        queue_total=Window(Count("pk", filter=condition)),
    )


# The customer's portal ---------------------------------------------------------------------


def to_sign(user, *, signer=None) -> Item | None:
    """Versions sent for signature to the user's customer, when the user may sign for it (1
    query; none when `signer` says the user may not)."""
    if signer is False:
        return None
    versions = AgreementVersion.objects.for_user(user).filter(status=AgreementVersion.Status.SENT)
    if signer is None:  # not known: the user's own contact must be an authorized signer
        versions = versions.filter(
            agreement__customer__contacts__user=user,
            agreement__customer__contacts__is_authorized_signer=True,
        )
    versions = (
        versions.select_related("agreement")
        .only("id", "number", "agreement__number")
        .order_by("sent_at", "pk")
    )
    return _listed(
        "to_sign",
        "Awaiting your signature",
        versions,
        reverse("portal:agreement_list"),
        lambda v: Link(
            v.agreement.number + (f" (amendment, version {v.number})" if v.number > 1 else ""),
            reverse("portal:agreement_sign", args=[v.agreement_id]),
            "Review and sign",
        ),
    )


def awaiting_approval(user):
    """The projects of the user's customer whose estimate (or change order) awaits approval."""
    pending = ProjectEstimate.objects.filter(
        project=OuterRef("pk"), status=ProjectEstimate.Status.PENDING
    )
    return Project.objects.for_user(user).filter(Exists(pending))


def to_approve(user, *, listed=None, approver=None) -> Item | None:
    """Projects whose estimate (or change order) awaits approval, when the user approves them
    (1 query; none when `approver` says the user does not, or when it says they do and
    `listed`, the portal home's `awaiting_approval` projects `marked`, holds them all: those
    rows are every project of the company awaiting approval, the item's only when the user is
    an approver)."""
    if approver is False:
        return None
    projects = (
        awaiting_approval(user)
        .filter(customer__contacts__user=user, customer__contacts__is_project_approver=True)
        .only("id", "title")
        .order_by("created_at", "pk")
    )
    return _listed(
        "to_approve",
        "Estimates awaiting your approval",
        projects,
        reverse("portal:project_list"),
        lambda p: Link(p.title, reverse("portal:project_detail", args=[p.pk]), "Review"),
        listed=listed if approver else None,
    )


def portal_queue(user, *, signer=None, approver=None, projects=None) -> list[Item]:
    """What a customer user has to act on (2 queries). The portal home says whether the user is
    a `signer` and an `approver` (its contacts) and gives its `projects` awaiting approval: 1
    query, none when the user does not sign (see `to_sign`, `to_approve`)."""
    items = (to_sign(user, signer=signer), to_approve(user, listed=projects, approver=approver))
    return [item for item in items if item]


# Staff ---------------------------------------------------------------------------------------


_UNASSIGNED_VISITS = Read(
    lambda now: counted(Visit.objects.open().filter(technician__isnull=True, ends_at__gt=now)),
    now=dt.datetime,
)


def unassigned_visits(*, now) -> Item | None:
    """Open visits still to come that no technician has (1 query)."""
    [(count,)] = _UNASSIGNED_VISITS.run(now=now)  # noqa: RUF015 - one row, always
    url = reverse("scheduling:visit_list") + "?technician=none"
    return _item("unassigned_visits", "Visits with no technician", count, url)


def count_clashing_visits(*, now) -> int:
    """Open visits still to come whose technician was busy at that time (1 query, a scan of the
    visits to come: the staff home stores it with its figures, allora/snapshots.py)."""
    return Visit.objects.open().filter(flag=Visit.Flag.CONFLICT, ends_at__gt=now).count()


def clashing_visits(count: int) -> Item | None:
    """The clashing visits, `count_clashing_visits` as stored with the staff home's figures."""
    url = reverse("scheduling:visit_list") + "?attention=conflict"
    return _item("clashing_visits", "Visits that clash", count, url)


def near_breach(now) -> Q:
    """Requests nobody has acknowledged past 80% of their response window, or past it."""
    return Q(status=EmergencyRequest.Status.OPEN, alert_80_at__lte=now)


def emergencies_near_breach(*, now, listed=None) -> Item | None:
    """The requests `near_breach` (1 query; none when `listed`, the staff home's open requests
    `marked` with `near_breach`, holds them all)."""
    requests = (
        EmergencyRequest.objects.filter(near_breach(now))
        .select_related("customer")
        .only("id", "customer__legal_name")
        .order_by("due_at", "pk")
    )
    return _listed(
        "emergencies",
        "Emergency requests near or past their response deadline",
        requests,
        reverse("delivery:emergency_list"),
        lambda r: Link(f"#{r.pk} {r.customer}", reverse("delivery:emergency_detail", args=[r.pk])),
        listed=listed,
    )


# Standing termination requests nobody at Allora has acknowledged yet.
TO_ACKNOWLEDGE = Q(status=TerminationRequest.Status.STANDING, acknowledged_at__isnull=True)


def terminations_to_acknowledge(*, listed=None) -> Item | None:
    """The termination requests `TO_ACKNOWLEDGE` (1 query; none when `listed`, the staff home's
    standing requests `marked` with `TO_ACKNOWLEDGE`, holds them all)."""
    requests = (
        TerminationRequest.objects.filter(TO_ACKNOWLEDGE)
        .select_related("agreement__customer")
        .only("id", "agreement__number", "agreement__customer__legal_name")
        .order_by("received_at", "pk")
    )
    return _listed(
        "terminations",
        "Termination requests to acknowledge",
        requests,
        reverse("staff_home") + "#dashboard-terminations",
        lambda r: _agreement_link(r.agreement, "agreements:agreement_detail"),
        listed=listed,
    )


_DRAFTS = Read(
    lambda: _first_rows(
        Agreement.objects.filter(status=Agreement.Status.DRAFT)
        .select_related("customer")
        .only("id", "number", "customer__legal_name")
        .order_by("created_at", "pk")
    )
)


def drafts_not_sent() -> Item | None:
    """Agreements still drafts, never sent for signature (1 query)."""
    return _first_item(
        "drafts",
        "Drafts not sent for signature",
        _DRAFTS.run(),
        reverse("agreements:agreement_list") + "?status=draft",
        lambda a: _agreement_link(a, "agreements:agreement_detail"),
    )


# Admins --------------------------------------------------------------------------------------


_COUNTERSIGN = Read(
    lambda: _first_rows(
        AgreementVersion.objects.filter(status=AgreementVersion.Status.CUSTOMER_SIGNED)
        .select_related("agreement__customer")
        .only("id", "agreement__number", "agreement__customer__legal_name")
        .order_by("pk")
    )
)


def to_countersign() -> Item | None:
    """Versions the customer has signed, waiting for Allora's countersignature (1 query)."""
    return _first_item(
        "countersign",
        "Awaiting your countersignature",
        _COUNTERSIGN.run(),
        reverse("agreements:agreement_list") + "?status=customer_signed",
        lambda v: _agreement_link(v.agreement, "agreements:agreement_countersign", "Countersign"),
    )


def _reviews_due(first_end, last_end):
    latest_number = (
        Term.objects.filter(agreement=OuterRef("agreement")).order_by("-number").values("number")
    )
    finalized = RateReview.objects.filter(
        agreement=OuterRef("pk"),
        term_number=Subquery(latest_number[:1]) + 1,
        status=RateReview.Status.FINALIZED,
    )
    return (
        Agreement.objects.filter(
            status__in=Agreement.LIVE, term_end__gte=first_end, term_end__lte=last_end
        )
        .exclude(Exists(finalized))
        .select_related("customer")
        .only("id", "number", "customer__legal_name")
        .order_by("term_end", "number")
    )


_REVIEWS_DUE = Read(
    lambda first_end, last_end: _reviews_due(first_end, last_end)[:FIRST],
    first_end=dt.date,
    last_end=dt.date,
)
_REVIEWS_DUE_COUNT = Read(
    lambda first_end, last_end: counted(_reviews_due(first_end, last_end)),
    first_end=dt.date,
    last_end=dt.date,
)


def renewal_reviews_due(*, today) -> Item | None:
    """Live agreements whose term ends within 90 days, whose notice deadline has not passed, and
    whose next term's rates nobody has finalized yet. The notice deadline is the last covered
    day (end − 1 day) − 30 days: on or after today means end ≥ today + 31 days.

    Read from each agreement's stored latest term end (`Agreement.term_end`, kept by triggers)
    through its index: the first few, then the count only when there may be more (1 or 2
    queries). A window count over the latest terms joined to their agreements read every row of
    the window (3,400 at 10,000 agreements: ~30 ms in PostgreSQL)."""
    ends = {
        "first_end": today + dt.timedelta(days=NOTICE_DAYS + 1),
        "last_end": today + RENEWAL_WINDOW,
    }
    first = _REVIEWS_DUE.run(**ends)
    count = _REVIEWS_DUE_COUNT.run(**ends)[0][0] if len(first) == FIRST else len(first)
    return _item(
        "renewal_reviews",
        "Renewal reviews due before the notice deadline",
        count,
        reverse("agreements:renewal_queue"),
        [_agreement_link(a, "agreements:renewal_review", "Review rates") for a in first],
    )


def billing_problems(problems) -> Item | None:
    """From the staff dashboard's own panel (`dashboard.billing_problems`): no query here."""
    return _item(
        "billing_problems",
        "Billing problems: the monthly run could not price these",
        problems["count"],
        reverse("staff_home") + "#dashboard-billing-problems",
        [_agreement_link(a, "agreements:agreement_detail") for a in problems["agreements"][:FIRST]],
    )


def staff_queue(
    user, *, today, now, problems, clashing, emergencies=None, terminations=None
) -> list[Item]:
    """What Allora staff have to act on (4 queries); an admin also sees countersignatures,
    renewal reviews and billing problems (2 more; `problems` is the dashboard's panel, `clashing`
    its stored count of clashing visits). The staff home gives its panels' rows too (its open
    `emergencies` and standing `terminations`, `marked`): 2 queries fewer when they hold every
    request near breach and every request to acknowledge."""
    items = [
        unassigned_visits(now=now),
        clashing_visits(clashing),
        emergencies_near_breach(
            now=now, listed=None if emergencies is None else [row["request"] for row in emergencies]
        ),
        terminations_to_acknowledge(listed=terminations),
        drafts_not_sent(),
    ]
    if user.is_admin:
        items = [
            to_countersign(),
            renewal_reviews_due(today=today),
            billing_problems(problems),
            *items,
        ]
    return [item for item in items if item]
