"""The life of a signed agreement, the workflows that span apps: activation (the first term
with its locked rates and its visits planned), termination requests and what they mean, the
renewal review (carried, uplifted or reviewed rates; a late increase and its opt-out window),
renewal and ending (the daily jobs, with their reminders), and early termination with its final
invoice. Sending and signing, up to activation, are in ``signing.py``.

Each step is one transaction that locks the agreement row (the renewal job: one transaction
per chunk of agreements, every row of the chunk locked); emails run after commit.
"""

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone

from allora.batches import collector_paused
from allora.emails import send_after_commit, staff_emails
from allora.models import remembering_company
from billing.pricing import merged_rates, rate_changes
from billing.rules import money
from billing.services import rates_snapshot
from integrations import events as webhook_events
from scheduling.planning import cancel_future_visits, plan_term, plan_terms

from . import rules
from .document import exhibit_b
from .models import (
    Agreement,
    AgreementEvent,
    AgreementVersion,
    Contact,
    RateReview,
    Reminder,
    Term,
    TerminationRequest,
)

Event = AgreementEvent.Kind
logger = logging.getLogger(__name__)


# Activation ------------------------------------------------------------------------------


def activate(agreement, *, version, signed_on: dt.date):
    """Create the first term [start, start + 1 year) with the signed Exhibit A as locked rates."""
    start = rules.first_term_start(signed_on=signed_on, requested_start=version.start_date)
    term = Term.objects.create(
        agreement=agreement,
        number=1,
        start=start,
        end=rules.term_end(start),
        locked_rates=version.rates_snapshot,
        version=version,
    )
    plan_term(term)
    agreement.set_status(Agreement.Status.ACTIVE)
    agreement.log(
        Event.ACTIVATED,
        f"Active: term 1 from {term.start:%B %-d, %Y} to {term.last_day:%B %-d, %Y}",
    )
    return term


# Termination requests -------------------------------------------------------------------


def _customer_recipients(agreement, *extra):
    """The customer's signers and billing contacts (and any extra address), once each."""
    return _recipients(_contact_emails([agreement.customer_id]), agreement, *extra)


def _contact_emails(customer_ids) -> dict[int, list[str]]:
    """{customer id: its signers' and billing contacts' addresses}, in one query."""
    emails = defaultdict(list)
    contacts = Contact.objects.filter(customer_id__any=customer_ids).filter(
        models.Q(is_authorized_signer=True) | models.Q(is_billing_contact=True)
    )
    for customer_id, email in contacts.values_list("customer_id", "email"):
        emails[customer_id].append(email)
    return emails


def _recipients(contact_emails, agreement, *extra):
    emails = [*contact_emails.get(agreement.customer_id, []), *extra]
    return list(dict.fromkeys(email.lower() for email in emails if email))


@dataclasses.dataclass(frozen=True)
class TerminationOutcome:
    """What a termination request received on a given day means."""

    term_number: int  # the term the request is counted against
    deadline: dt.date  # the last day a request is timely for that term
    timely: bool
    effective_end: dt.date  # the agreement ends here (exclusive)
    renews_on: dt.date | None  # a late request: the renewal it cannot stop starts here

    @property
    def last_day(self):
        return rules.last_covered_day(self.effective_end)


def termination_outcome(agreement, *, received_on: dt.date) -> TerminationOutcome:
    """What a request received on a local date means. The term is the one in force that day, or
    the first term if it has not started; a day past the last term's end counts in the renewal
    that is due."""
    terms = list(agreement.terms.order_by("number"))
    if not terms:
        raise ValidationError("This agreement was never signed, so there is nothing to terminate.")
    term = next((t for t in reversed(terms) if t.start <= received_on), terms[0])
    number, end = term.number, term.end
    if open_opt_out(agreement, term_number=number + 1, on=received_on):
        # A rate increase finalized after the deadline: within its window the request is timely
        # for this term (even after its end: the renewal waits for the window to close).
        return TerminationOutcome(number, rules.notice_deadline(end), True, end, None)
    while received_on >= end:  # the renewal job has not run yet: the next term applies
        number, end = number + 1, rules.term_end(end)
    deadline = rules.notice_deadline(end)
    timely = rules.is_timely(received_on, deadline=deadline)
    effective_end = end if timely else rules.term_end(end)
    return TerminationOutcome(number, deadline, timely, effective_end, None if timely else end)


@transaction.atomic
def file_termination_request(agreement, *, by, received_at, reason, typed_name, channel, now=None):
    """Record a written termination request and tell the customer plainly what happens."""
    now = now or timezone.now()
    agreement = (
        Agreement.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=agreement.pk)
    )
    _check_may_request_termination(agreement, by)
    if agreement.status in (Agreement.Status.ENDED, Agreement.Status.TERMINATED):
        raise ValidationError("This agreement has already ended.")
    if not agreement.is_live:
        raise ValidationError("This agreement was never signed, so there is nothing to terminate.")
    if agreement.termination_requests.filter(status=TerminationRequest.Status.STANDING).exists():
        raise ValidationError(
            "A termination request already stands for this agreement; withdraw it first to file "
            "another."
        )
    if received_at > now + dt.timedelta(minutes=5):
        raise ValidationError("The received time cannot be in the future.")
    if not reason.strip() or len(typed_name.strip()) < 3:
        raise ValidationError("Give the reason and type your full name.")
    received_on = timezone.localdate(received_at, agreement.tz)
    outcome = termination_outcome(agreement, received_on=received_on)
    recorded_by_staff = by.is_allora_staff  # a letter or email: whoever records it has seen it
    request = TerminationRequest.objects.create(
        agreement=agreement,
        received_at=received_at,
        channel=channel,
        reason=reason.strip(),
        typed_name=typed_name.strip(),
        filed_by=by,
        term_number=outcome.term_number,
        notice_deadline=outcome.deadline,
        timely=outcome.timely,
        effective_end=outcome.effective_end,
        renews_on=outcome.renews_on,
        acknowledged_at=now if recorded_by_staff else None,
        acknowledged_by=by if recorded_by_staff else None,
    )
    latest = agreement.latest_term
    if latest and latest.end == outcome.effective_end:
        agreement.set_status(Agreement.Status.ENDING)
    agreement.log(Event.TERMINATION_REQUEST, termination_message(request), actor=by)
    webhook_events.termination_request_filed(request, now=now)
    _tell_staff_of_request(request, by=by)
    _remind(
        agreement,
        Reminder.Kind.REQUEST_RECEIVED,
        key=request.pk,
        today=received_on,
        to=_customer_recipients(agreement, by.email),
        context={"request": request},
    )
    return request


def _tell_staff_of_request(request, *, by):
    """Email Allora's staff and admins (but the one who recorded it) about a new request, after
    commit. It goes with the request's own transaction, so each request is told once: a second
    request while one stands is refused, and a rollback sends nothing."""
    agreement = request.agreement
    send_after_commit(
        "termination_request_filed",
        to=staff_emails(excluding=by),
        context={
            "agreement": agreement,
            "customer": agreement.customer,
            "request": request,
            "by_customer": not by.is_allora_staff,
            "filed_by": by,
            "received_local": timezone.localtime(request.received_at, agreement.tz),
            "message": termination_message(request),
            "agreement_url": settings.SITE_URL
            + reverse("agreements:agreement_detail", args=[agreement.pk]),
        },
    )


@transaction.atomic
def acknowledge_termination_request(request, *, by, now=None):
    """A staff member acknowledges a customer's request: it leaves the staff's queue, and the
    agreement's history says who acknowledged it and when."""
    now = now or timezone.now()
    if not by.is_allora_staff:
        raise PermissionDenied("Only Allora staff acknowledge a termination request.")
    request = (
        TerminationRequest.objects.select_for_update(of=("self",))
        .select_related("agreement", "acknowledged_by")
        .get(pk=request.pk)
    )
    if request.acknowledged_at is not None:
        raise ValidationError(
            "%(who)s already acknowledged this request on %(on)s.",
            params={
                "who": request.acknowledged_by,
                "on": f"{timezone.localtime(request.acknowledged_at):%B %-d, %Y at %H:%M}",
            },
        )
    if request.status != TerminationRequest.Status.STANDING:
        raise ValidationError("This request is no longer standing.")
    request.acknowledged_at, request.acknowledged_by = now, by
    request.save(update_fields=["acknowledged_at", "acknowledged_by"])
    received_on = timezone.localdate(request.received_at, request.agreement.tz)
    request.agreement.log(
        Event.REQUEST_ACKNOWLEDGED,
        f"Termination request of {received_on:%B %-d, %Y} acknowledged by {by}",
        actor=by,
    )
    return request


def _check_may_request_termination(agreement, user):
    # Signing decides who may end the agreement too (signing imports this module: import late).
    from .signing import may_request_termination, termination_refusal

    if not may_request_termination(agreement, user):
        raise PermissionDenied(termination_refusal(agreement))


def termination_message(request) -> str:
    """The plain answer to a termination request, with its dates."""
    received_on = timezone.localdate(request.received_at, request.agreement.tz)
    if request.timely and received_on > request.notice_deadline:
        return (
            f"Because of the rate increase for the next term, your agreement will end on "
            f"{request.last_day:%B %-d, %Y} and will not renew (the increase was announced after "
            f"the notice deadline of {request.notice_deadline:%B %-d, %Y})."
        )
    if request.timely:
        return f"Your agreement will end on {request.last_day:%B %-d, %Y} and will not renew."
    return (
        f"Your request arrived after the notice deadline of {request.notice_deadline:%B %-d, %Y}. "
        f"The agreement renews on {request.renews_on:%B %-d, %Y} for one year and will end on "
        f"{request.last_day:%B %-d, %Y}; no further notice is needed."
    )


@transaction.atomic
def withdraw_termination_request(request, *, by, now=None):
    """Withdraw a standing request before the agreement ends; it then renews as usual."""
    now = now or timezone.now()
    request = (
        TerminationRequest.objects.select_for_update(of=("self",))
        .select_related("agreement")
        .get(pk=request.pk)
    )
    agreement = request.agreement
    _check_may_request_termination(agreement, by)
    if request.status != TerminationRequest.Status.STANDING:
        raise ValidationError("This request is no longer standing.")
    if timezone.localdate(now, agreement.tz) >= request.effective_end:
        raise ValidationError(
            "The agreement has already ended; the request can no longer be withdrawn."
        )
    request.status = TerminationRequest.Status.WITHDRAWN
    request.withdrawn_at = now
    request.withdrawn_by = by
    request.save(update_fields=["status", "withdrawn_at", "withdrawn_by"])
    if agreement.status == Agreement.Status.ENDING:
        agreement.set_status(Agreement.Status.ACTIVE)
    agreement.log(
        Event.REQUEST_WITHDRAWN,
        "Termination request withdrawn: the agreement renews as usual",
        actor=by,
    )
    return request


# Renewal review ---------------------------------------------------------------------------


def check_uplift(method, uplift_percent):
    """Refuse a method and an uplift percent that disagree: the uplift method needs a percent of
    −100 or more, and a percent typed with another method would be silently ignored."""
    if method == RateReview.Method.UPLIFT:
        if uplift_percent is None:
            raise ValidationError("Enter the uplift in percent.", code="required")
        if uplift_percent < -100:
            raise ValidationError(
                "The uplift must be a percentage of −100 or more.", code="min_value"
            )
    elif uplift_percent is not None:
        raise ValidationError(
            "You entered an uplift of %(percent)s%% but chose “%(method)s”: choose “%(uplift)s” "
            "or clear the percent.",
            params={
                "percent": f"{Decimal(uplift_percent):f}",
                "method": RateReview.Method(method).label,
                "uplift": RateReview.Method.UPLIFT.label,
            },
            code="uplift_with_another_method",
        )


def proposed_rates(agreement, *, method, uplift_percent=None, on: dt.date):
    """The rates the next term would have, by method: keep, the current card, or an uplift."""
    check_uplift(method, uplift_percent)
    current = carried_rates(agreement.latest_term, agreement.signed_version())
    if method == RateReview.Method.KEEP:
        return current
    if method == RateReview.Method.CARD:
        return merged_rates(rates_snapshot(on=on), current)
    return uplifted(current, uplift_percent)


def next_term_comparison(agreement, term, review):
    """Old and new rates side by side, with the monthly total under each (the review page, the
    portal and the customer's email show the same)."""
    if review is None:
        return {"changes": None}
    version = agreement.signed_version()
    # What the renewal would carry without the review: the locked rates plus what an amendment
    # added (its package is not in the term's locked rates, so they alone cannot price it).
    current = carried_rates(term, version)
    _, old_total = exhibit_b(version, current, anchor=term.end)
    _, new_total = exhibit_b(version, review.rates, anchor=term.end)
    return {
        "changes": rate_changes(current, review.rates),
        "old_total": old_total,
        "new_total": new_total,
        "monthly_difference": new_total - old_total,
    }


def proposed_comparison(agreement, term, *, method, uplift_percent=None):
    """`next_term_comparison` for rates not saved yet: what the review form would save (its
    live preview, so the admin sees the new monthly total before saving)."""
    rates = proposed_rates(agreement, method=method, uplift_percent=uplift_percent, on=term.end)
    return next_term_comparison(agreement, term, SimpleNamespace(rates=rates))


def carried_rates(term, version):
    """The rates a renewal carries over: the term's locked rates plus what the version in force
    added by amendment (a new hosting package at the price its Exhibit A gave)."""
    return merged_rates(term.locked_rates, version.rates_snapshot if version else None)


def uplifted(snapshot, percent):
    """A snapshot with every price raised by ``percent`` (rounded to cents, half up)."""
    factor = 1 + Decimal(percent) / 100
    return {
        **snapshot,
        "rates": [
            {**rate, "price": str(money(Decimal(rate["price"]) * factor))}
            for rate in snapshot["rates"]
        ],
    }


def _reviewable_term(agreement, *, today):
    """The term a review is for (the next one), refusing one that has started or won't come."""
    latest = agreement.latest_term
    if latest is None or not agreement.is_live:
        raise ValidationError("Only an active agreement has a next term to review.")
    if today >= latest.end:
        raise ValidationError("The next term has already started; its rates can no longer change.")
    return latest.number + 1


@transaction.atomic
def save_rate_review(agreement, *, method, uplift_percent=None, by, today):
    """Set (or change) the draft rates of an agreement's next term."""
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    number = _reviewable_term(agreement, today=today)
    review = agreement.rate_reviews.filter(term_number=number).first()
    if review and review.status == RateReview.Status.FINALIZED:
        raise ValidationError("The rates for the next term are already finalized.")
    next_start = agreement.latest_term.end
    rates = proposed_rates(agreement, method=method, uplift_percent=uplift_percent, on=next_start)
    review, _ = RateReview.objects.update_or_create(
        agreement=agreement,
        term_number=number,
        defaults={
            "method": method,
            "uplift_percent": uplift_percent,
            "rates": rates,
            "reviewed_by": by,
        },
    )
    return review


OPT_OUT_DAYS = 30


def late_increase(review, *, today: dt.date):
    """(notice deadline, opt-out until) when finalizing ``review`` on ``today`` raises a rate
    after the running term's notice deadline; None otherwise (before the deadline, or no rate
    goes up compared with what the renewal would carry without the review)."""
    agreement = review.agreement
    term = agreement.latest_term
    if term is None or today <= term.notice_deadline:
        return None
    old = carried_rates(term, agreement.signed_version())
    changes = rate_changes(old, review.rates)
    if not any(change.difference and change.difference > 0 for change in changes):
        return None
    return term.notice_deadline, today + dt.timedelta(days=OPT_OUT_DAYS)


def open_opt_out(agreement, *, term_number, on: dt.date):
    """The finalized review of ``term_number`` whose late-increase window is open on ``on``."""
    return agreement.rate_reviews.filter(
        term_number=term_number,
        status=RateReview.Status.FINALIZED,
        opt_out_until__gte=on,
    ).first()


@transaction.atomic
def finalize_rate_review(review, *, by, today, confirm_late_increase=False):
    """Fix the next term's rates and tell the customer; the running term keeps its rates.

    An increase after the notice deadline needs ``confirm_late_increase`` and gives the customer
    30 days from today to end the agreement at the term end without it."""
    review = (
        RateReview.objects.select_for_update(of=("self",))
        .select_related("agreement")
        .get(pk=review.pk)
    )
    agreement = review.agreement
    if review.status == RateReview.Status.FINALIZED:
        raise ValidationError("These rates are already finalized.")
    if _reviewable_term(agreement, today=today) != review.term_number:
        raise ValidationError("This review is for a term that has already started.")
    late = late_increase(review, today=today)
    if late and not confirm_late_increase:
        raise ValidationError(
            "The customer's notice deadline of %(deadline)s has passed and these rates raise at "
            "least one rate. Confirm the late increase to finalize it: the customer then has "
            "until %(until)s to end the agreement at the term end without it.",
            params={"deadline": f"{late[0]:%B %-d, %Y}", "until": f"{late[1]:%B %-d, %Y}"},
        )
    review.opt_out_until = late[1] if late else None
    review.status = RateReview.Status.FINALIZED
    review.finalized_at = timezone.now()
    review.reviewed_by = by
    review.save(update_fields=["status", "finalized_at", "reviewed_by", "opt_out_until"])
    opt_out = (
        f"; after the notice deadline: the customer may end the agreement on "
        f"{agreement.latest_term.last_day:%B %-d, %Y} by a written request by "
        f"{review.opt_out_until:%B %-d, %Y}"
        if review.opt_out_until
        else ""
    )
    agreement.log(
        Event.RATES_FINALIZED,
        f"Rates for term {review.term_number} finalized ({review.get_method_display().lower()})"
        + opt_out,
        actor=by,
    )
    _remind(
        agreement,
        Reminder.Kind.RATES_FINALIZED,
        key=review.term_number,
        today=today,
        to=_customer_recipients(agreement),
        context={
            "review": review,
            "term": agreement.latest_term,
            **next_term_comparison(agreement, agreement.latest_term, review),
        },
    )
    return review


# Daily jobs -------------------------------------------------------------------------------


def _remind(agreement, kind, *, key, today, to, context):
    """Send one lifecycle email once: the Reminder row's unique key makes a rerun send nothing."""
    with transaction.atomic():
        reminder, created = Reminder.objects.get_or_create(
            agreement=agreement,
            kind=kind,
            key=key,
            defaults={"sent_on": today, "recipients": ", ".join(to)},
        )
    if created:
        _reminder_sent(agreement, kind, to=to, context=context).save(force_insert=True)
    return created


def _reminder_sent(agreement, kind, *, to, context) -> AgreementEvent:
    """Queue a lifecycle email (sent after commit) whose Reminder row is being stored; the
    history line saying so, not saved yet."""
    send_after_commit(
        f"lifecycle_{kind}",
        to=to,
        context={"agreement": agreement, "customer": agreement.customer, **context},
    )
    return agreement.event(Event.REMINDER, f"Email sent: {Reminder.Kind(kind).label}")


def _claim_live(pk):
    """Lock a live agreement for this transaction; None when it is not live or another worker
    holds it (that worker finishes the job for it)."""
    claimed = _claim_live_agreements([pk])
    return claimed[0] if claimed else None


def _claim_live_agreements(pks) -> list[Agreement]:
    """Lock the live agreements among ``pks`` for this transaction, in id order; those not live
    or held by another worker are left out (that worker finishes the job for them)."""
    return list(
        Agreement.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=pks, status__in=Agreement.LIVE)
        .select_related("customer")
        .order_by("pk")
    )


RENEWAL_CHUNK = 250


@remembering_company
def renew_due_agreements(*, today: dt.date, chunk_size: int = RENEWAL_CHUNK):
    """Renew every live agreement whose term has ended by ``today`` without a timely request:
    a chunk of agreements at a time, one transaction each. An agreement that cannot be renewed
    is logged and left due for the next run; it never stops the others."""
    due = list(
        Agreement.objects.live()
        .annotate(last_end=models.Max("terms__end"))
        .filter(last_end__lte=today)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    renewed = []
    for index in range(0, len(due), chunk_size):
        with collector_paused():
            renewed += _renew_chunk(due[index : index + chunk_size], today=today)
    return renewed


def _renew_chunk(pks, *, today):
    """The chunk in one transaction; if that fails, one agreement at a time, so a second
    worker's renewal or one agreement's bad data costs the others nothing."""
    try:
        with transaction.atomic():
            return _renew(pks, today=today)
    except IntegrityError:
        logger.info("Renewal chunk %s…: a term already exists, one by one", pks[0])
    except DatabaseError:
        raise
    except Exception:  # noqa: BLE001 - one agreement's data: found one by one below
        logger.info("Renewal chunk %s… failed, one by one", pks[0], exc_info=True)
    renewed = []
    for pk in pks:
        try:
            renewed += renew_agreement(pk, today=today)
        except IntegrityError:
            continue  # another worker renewed it at the same moment
        except DatabaseError:
            raise
        except Exception as error:  # noqa: BLE001 - one agreement never stops the run
            logger.exception("Agreement %s could not be renewed on %s", pk, today)
            _record_renewal_problem(pk, error, today=today)
    return renewed


def _record_renewal_problem(pk, error, *, today: dt.date):
    """An agreement left unrenewed is not billed for its next term either: record it as its
    billing problem (on its page and the staff home; the admins are emailed the first time).
    The next run tries again; the next invoice of the agreement clears it."""
    from billing.invoicing import record_billing_problem

    agreement = Agreement.objects.select_related("customer").get(pk=pk)
    record_billing_problem(
        agreement, f"Not renewed on {today:%B %-d, %Y} (the next term is missing): {error}"
    )


def renew_agreement(pk, *, today: dt.date):
    """Add the terms due by ``today`` (several after a long gap), each from the previous end."""
    with transaction.atomic():
        return _renew([pk], today=today)


def _renew(pks, *, today: dt.date) -> list[Term]:
    """Renew the agreements among ``pks`` this worker can lock; the new terms. Called inside a
    transaction. A fixed number of queries whatever the number of agreements: the locks, one
    read each of the latest terms, standing requests, signed versions, finalized reviews,
    contacts and renewal reminders, then multi-row inserts and one ``plan_terms``."""
    agreements = _claim_live_agreements(pks)
    if not agreements:
        return []
    ids = [agreement.pk for agreement in agreements]
    latest = {
        term.agreement_id: term
        for term in Term.objects.filter(agreement_id__any=ids).latest_of_each()
    }
    requests = {
        request.agreement_id: request
        for request in TerminationRequest.objects.filter(
            agreement_id__any=ids, status=TerminationRequest.Status.STANDING
        )
    }
    versions = {}  # the version in force: the latest signed one (ascending: the last one wins)
    for version in (
        AgreementVersion.objects.filter(
            agreement_id__any=ids, status=AgreementVersion.Status.SIGNED
        )
        .only("agreement_id", "number", "rates_snapshot")
        .order_by("agreement_id", "number")
    ):
        versions[version.agreement_id] = version
    reviews: defaultdict[int, dict[int, RateReview]] = defaultdict(dict)
    for finalized in RateReview.objects.filter(
        agreement_id__any=ids, status=RateReview.Status.FINALIZED
    ):
        reviews[finalized.agreement_id][finalized.term_number] = finalized
    sent = set(
        Reminder.objects.filter(agreement_id__any=ids, kind=Reminder.Kind.RENEWED).values_list(
            "agreement_id", "key"
        )
    )
    contacts = _contact_emails({agreement.customer_id for agreement in agreements})

    created, events, reminders = [], [], []
    for agreement in agreements:
        if agreement.pk not in latest:
            continue  # never activated: nothing to renew
        request = requests.get(agreement.pk)
        renewals = next_terms(
            latest[agreement.pk],
            request=request,
            version=versions.get(agreement.pk),
            reviews=reviews[agreement.pk],
            today=today,
        )
        to = _recipients(contacts, agreement) if renewals else []
        for term, review in renewals:
            term.agreement = agreement
            how = "with the reviewed rates" if review else "as is"
            events.append(
                agreement.event(
                    Event.RENEWED,
                    f"Renewed {how}: term {term.number} from {term.start:%B %-d, %Y} "
                    f"to {term.last_day:%B %-d, %Y}",
                )
            )
            if (agreement.pk, term.number) not in sent:
                reminders.append(
                    Reminder(
                        agreement=agreement,
                        kind=Reminder.Kind.RENEWED,
                        key=term.number,
                        sent_on=today,
                        recipients=", ".join(to),
                    )
                )
                events.append(
                    _reminder_sent(
                        agreement,
                        Reminder.Kind.RENEWED,
                        to=to,
                        context={"term": term, "review": review},
                    )
                )
            created.append(term)
        last_end = renewals[-1][0].end if renewals else latest[agreement.pk].end
        if (
            request
            and request.effective_end == last_end
            and agreement.status != Agreement.Status.ENDING
        ):
            agreement.set_status(Agreement.Status.ENDING)  # this term is its last
    Term.objects.bulk_create(created)
    plan_terms(created)  # whole terms, as if the job had run on the day each was due
    AgreementEvent.objects.bulk_create(events)
    Reminder.objects.bulk_create(reminders)
    webhook_events.agreements_renewed(created, now=timezone.now())
    return created


def next_terms(
    latest: Term, *, request, version, reviews: dict, today: dt.date
) -> list[tuple[Term, RateReview | None]]:
    """The terms due by ``today`` after ``latest`` (unsaved, several after a long gap), each
    from the previous end with its finalized review's rates ({term number: review}) or the
    carried ones, and the review used. None once the standing ``request`` ends the agreement
    with a term, or while a late increase's opt-out window is open (the renewal waits)."""
    found: list[tuple[Term, RateReview | None]] = []
    term = latest
    due = rules.term_dates(term.end, through=today) if term.end <= today else []
    for start, end in due:
        if request and request.effective_end <= term.end:
            break  # the agreement ends with this term
        review = reviews.get(term.number + 1)
        if review and review.opt_out_open(today):
            break  # a late increase's opt-out window is open: the renewal waits for it
        term = Term(
            agreement_id=latest.agreement_id,
            number=term.number + 1,
            start=start,
            end=end,
            locked_rates=review.rates if review else carried_rates(term, version),
            version=version,
        )
        found.append((term, review))
    return found


def end_due_agreements(*, today: dt.date):
    """End the agreements whose standing request takes effect by ``today``."""
    due = TerminationRequest.objects.filter(
        status=TerminationRequest.Status.STANDING,
        effective_end__lte=today,
        agreement__status__in=Agreement.LIVE,
    ).values_list("agreement_id", flat=True)
    return [pk for pk in list(due) if end_agreement(pk, today=today)]


def end_agreement(pk, *, today: dt.date) -> bool:
    with transaction.atomic():
        agreement = _claim_live(pk)
        if agreement is None:
            return False
        request = agreement.termination_requests.filter(
            status=TerminationRequest.Status.STANDING, effective_end__lte=today
        ).first()
        latest = agreement.latest_term
        if request is None or latest.end != request.effective_end:
            return False  # a late request whose following term has not been added yet
        agreement.set_status(Agreement.Status.ENDED)
        webhook_events.agreement_ended(agreement, last_day=request.last_day, now=timezone.now())
        TerminationRequest.objects.filter(pk=request.pk).update(
            status=TerminationRequest.Status.FULFILLED
        )
        cancelled = cancel_future_visits(agreement, after=request.effective_end)
        agreement.log(
            Event.ENDED,
            f"Ended on {request.last_day:%B %-d, %Y} as requested; "
            f"{cancelled} future visits cancelled",
        )
        _remind(
            agreement,
            Reminder.Kind.ENDED,
            key=latest.number,
            today=today,
            to=_customer_recipients(agreement),
            context={"request": request},
        )
    return True


REMINDER_WINDOWS = (
    (Reminder.Kind.RENEWAL_90, 90),
    (Reminder.Kind.RENEWAL_60, 60),
)


def due_reminders(term, *, request, today: dt.date):
    """Which term reminders are due on ``today`` (a catch-up run gets all it missed)."""
    if request is not None and request.effective_end <= term.end:
        return []  # the agreement ends with this term: no renewal to announce
    due = [kind for kind, days in REMINDER_WINDOWS if term.end - dt.timedelta(days=days) <= today]
    if (
        request is None
        and term.notice_deadline - dt.timedelta(days=7) <= today <= term.notice_deadline
    ):
        due.append(Reminder.Kind.NOTICE_7)
    return due


@remembering_company
def send_lifecycle_reminders(*, today: dt.date):
    """Renewal (90 and 60 days) and notice-deadline (7 days) reminders, each sent once, and a
    digest of what went out to the staff."""
    agreements = (
        Agreement.objects.filter(
            status__in=Agreement.LIVE, terms__start__lte=today, terms__end__gt=today
        )
        .select_related("customer")
        .distinct()
    )
    sent = []
    for agreement in agreements:
        term = agreement.current_term(today=today)
        request = agreement.termination_requests.filter(
            status=TerminationRequest.Status.STANDING
        ).first()
        for kind in due_reminders(term, request=request, today=today):
            if _remind(
                agreement,
                kind,
                key=term.number,
                today=today,
                to=_customer_recipients(agreement),
                context={"term": term},
            ):
                sent.append((agreement, Reminder.Kind(kind).label, term))
    if sent:
        send_after_commit(
            "lifecycle_staff_digest",
            to=staff_emails(),
            context={"sent": sent, "today": today},
        )
    return sent


# Early termination ------------------------------------------------------------------------


@transaction.atomic
def terminate_early(agreement, *, by, today: dt.date):
    """End a live agreement today, before its term ends: a final invoice for the term's
    remaining recurring charges at its locked rates (and usage not billed yet), its future
    visits cancelled, status terminated. Returns the final invoice (None if nothing was owed)."""
    from billing.closing import issue_final_invoice

    agreement = (
        Agreement.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=agreement.pk)
    )
    if not agreement.is_live:
        raise ValidationError("Only an active or ending agreement can be terminated early.")
    # A renewal due by today first (a catch-up after downtime), so the final invoice counts
    # the terms a daily run would have had.
    renew_agreement(agreement.pk, today=today)
    invoice = issue_final_invoice(agreement, today=today)
    cancelled = cancel_future_visits(agreement, after=today + dt.timedelta(days=1))
    agreement.set_status(Agreement.Status.TERMINATED)
    webhook_events.agreement_ended(agreement, last_day=today, now=timezone.now())
    # A standing request is settled by the early end: it must not wait for a term end any more.
    agreement.termination_requests.filter(status=TerminationRequest.Status.STANDING).update(
        status=TerminationRequest.Status.FULFILLED
    )
    owed = f"final invoice {invoice.number}, ${invoice.total:,.2f}" if invoice else "nothing owed"
    agreement.log(
        Event.TERMINATED,
        f"Terminated early on {today:%B %-d, %Y}: {owed}; {cancelled} future visits cancelled",
        actor=by,
    )
    return invoice
