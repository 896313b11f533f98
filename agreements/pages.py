"""What the staff agreement pages (``agreements/views.py``) and the customer portal's
(``portal/views/agreements.py``) share: the one scoping helper that fetches an agreement for the
signed-in user, the signing page, the PDF responses, the withdraw-a-termination confirmation (and
the refusal for customer users who are not authorized signers), the warning after a customer edit
that versions awaiting signature keep the name and address they were sent with, and the renewal
and termination context of an agreement page."""

import functools
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html

from allora.statements import Read, attach, customer_user, staff_user
from allora.timeutils import local_today
from allora.validation import query_id
from billing.accounts import account_of, invoice_marks
from billing.closing import account_commitment, term_recurring_billed
from billing.services import hosting_packages
from scheduling.forms import ScheduleForm
from scheduling.models import ScheduleChange

from . import lifecycle, signing
from .document import document_context, document_html
from .forms import ServiceLineForm, SignForm
from .models import (
    Agreement,
    AgreementVersion,
    Customer,
    RateReview,
    ServiceKind,
    ServiceLine,
    Signature,
    Term,
    TerminationRequest,
)


def line_forms(data, *, kind, tz, anchor, today, instance=None):
    """The forms of one Exhibit B line of ``kind`` (the staff page's and the API's): the line
    form, and the schedule form (prefix "schedule") for a scheduled kind, else None. ``anchor``
    is the draft's start date (None: ``today``); hosting packages are those of today's card."""
    form = ServiceLineForm(
        data, instance=instance, kind=kind, hosting_packages=hosting_packages(on=today)
    )
    if kind not in (ServiceKind.MAINTENANCE, ServiceKind.PRESCHEDULED):
        return form, None
    initial = None
    if instance is not None and instance.rrule:
        initial = ScheduleForm.initial_for(
            rrule=instance.rrule,
            start_time=instance.start_time,
            duration_minutes=instance.duration_minutes,
        )
    schedule = ScheduleForm(data, prefix="schedule", initial=initial, tz=tz, anchor=anchor or today)
    return form, schedule


def get_agreement_for_user(user, pk):
    """The agreement if the user may see it; another customer's agreement is a 404."""
    return get_object_or_404(Agreement.objects.for_user(user).select_related("customer"), pk=pk)


def _page_agreements(user):
    """The agreements ``user`` may see (a stand-in: `staff_user`, `customer_user`) with what
    their page's read says besides their columns: where billing stands (`invoice_marks`) and
    which parts most agreements have none of they have (``has_<relation>``)."""
    return (
        Agreement.objects.for_user(user)
        .select_related("customer")
        .annotate(**invoice_marks())
        .annotate(
            **{
                f"has_{name}": Exists(rows.model.objects.filter(agreement=OuterRef("pk")))
                for name, rows in _rare_parts().items()
            },
            # The commitment's schedule changes (`accounts.account_of`): most lines have none.
            has_schedule_changes=Exists(
                ScheduleChange.objects.filter(line__version__agreement=OuterRef("pk"))
            ),
        )
    )


# An agreement's page reads (issue 14): the agreement, then each of its parts for all its
# versions at once, each a `Read` compiled once (building the invoice aggregates and the
# prefetches cost more than running them), put together as prefetch_related would (`attach`).
_STAFF_PAGE = Read(lambda pk: _page_agreements(staff_user()).filter(pk=pk), pk=int)
_CUSTOMER_PAGE = Read(
    lambda customer, pk: _page_agreements(customer_user(customer)).filter(pk=pk),
    customer=int,
    pk=int,
)
_VERSIONS = Read(
    lambda agreement: AgreementVersion.objects.filter(agreement_id=agreement).select_related(
        "terms_template", "signer"
    ),
    agreement=int,
)
_LINES = Read(
    lambda agreement: ServiceLine.objects.filter(version__agreement_id=agreement).select_related(
        "response_tier"
    ),
    agreement=int,
)
# Who signed is on the signed PDF's certificate (agreements.pdf), not on the pages; one
# signature a party, so in no order (ordering costs building the query).
_SIGNATURES = Read(
    lambda agreement: Signature.objects.filter(version__agreement_id=agreement).order_by(),
    agreement=int,
)
# In no order: what reads them picks the one it needs (`latest_term`, `current_term`) or sorts
# them (the page's list, `account_of`). Each with what was billed of its recurring charges, for
# the commitment panel.
_TERMS = Read(
    lambda agreement: (
        Term.objects.filter(agreement_id=agreement)
        .annotate(recurring_billed=term_recurring_billed())
        .order_by()
    ),
    agreement=int,
)


@functools.cache
def _rare_parts() -> dict:
    """The parts of an agreement most agreements have none of (relation → its rows): the page's
    read says which it has (``has_<relation>``), and only those are read."""
    return {
        "termination_requests": TerminationRequest.objects.select_related(
            "filed_by", "acknowledged_by"
        ),
        "rate_reviews": RateReview.objects.all(),
    }


def get_agreement_page(user, pk):
    """`get_agreement_for_user`, with everything an agreement's page shows read once (issue 14:
    the page read its terms five times, its versions three): the versions with their lines and
    signatures, the terms, termination requests and rate reviews (only when it has some), and
    where billing stands (`accounts.invoice_marks`). What the page calls uses these rows
    (`models.prefetched`)."""
    found = []
    if user.is_allora_staff:
        found = _STAFF_PAGE.run(pk=pk)
    elif user.is_customer_user:
        found = _CUSTOMER_PAGE.run(customer=user.customer_id, pk=pk)
    if not found:
        raise Http404("No agreement matches the given query.")
    agreement = found[0]
    versions = _VERSIONS.run(agreement=agreement.pk)
    attach([agreement], "versions", versions)
    attach(versions, "lines", _LINES.run(agreement=agreement.pk))
    attach(versions, "signatures", _SIGNATURES.run(agreement=agreement.pk))
    attach([agreement], "terms", _TERMS.run(agreement=agreement.pk))
    for name, rows in _rare_parts().items():
        if getattr(agreement, f"has_{name}"):
            prefetch_related_objects([agreement], Prefetch(name, queryset=rows))
        else:
            attach([agreement], name, [])
    return agreement


def commitment_context(agreement, *, today) -> dict:
    """The commitment panel of an agreement page (`get_agreement_page`), priced from what the
    page read: only the schedule changes and the sum billed are read for it."""
    account = account_of(agreement)
    return {"commitment": account_commitment(account, today=today) if account else None}


# The customer filter of the staff lists and calendar -----------------------------------------

# How many names the filter's search box suggests as one types.
CUSTOMER_SUGGESTIONS = 10


@dataclass(frozen=True)
class CustomerFilter:
    """A search box on part of the legal name (``customer_name``), or one customer's id from a
    link (``customer``): never a dropdown of every customer, which at 10,000 customers was most
    of the page (issue 14)."""

    pk: int | None = None
    name: str = ""

    def apply(self, queryset, *, via="customer"):
        if self.pk:
            return queryset.filter(**{f"{via}_id": self.pk})
        if self.name:
            return queryset.filter(**{f"{via}__legal_name__icontains": self.name})
        return queryset

    @property
    def query(self) -> dict:
        """The filter as query parameters, for links that keep it (the calendar's months)."""
        if self.pk:
            return {"customer": self.pk}
        return {"customer_name": self.name} if self.name else {}


def customer_filter(request) -> CustomerFilter:
    pk = query_id(request.GET.get("customer"))
    if pk:
        name = Customer.objects.filter(pk=pk).values_list("legal_name", flat=True).first()
        return CustomerFilter(pk=pk, name=name or "")
    return CustomerFilter(name=request.GET.get("customer_name", "").strip()[:200])


def customer_suggestions(text: str, *, active_only=False) -> list[tuple[int, str]]:
    """(id, legal name) of the first customers whose name contains ``text``, for the search
    boxes (the list filters use the name, the forms' `SearchSelect` the id; a form that takes
    active customers only asks for those)."""
    text = text.strip()[:200]
    if not text:
        return []
    names = Customer.objects.filter(legal_name__icontains=text).order_by("legal_name")
    if active_only:
        names = names.exclude(status=Customer.Status.INACTIVE)
    return list(names.values_list("pk", "legal_name")[:CUSTOMER_SUGGESTIONS])


def agreement_suggestions(text: str) -> list[tuple[int, str]]:
    """(id, "number – customer") of the first live agreements whose number or customer's name
    contains ``text``, for the agreement search boxes."""
    text = text.strip()[:200]
    if not text:
        return []
    found = (
        Agreement.objects.live()
        .filter(Q(number__icontains=text) | Q(customer__legal_name__icontains=text))
        .select_related("customer")
        .order_by("number")
    )
    return [(agreement.pk, str(agreement)) for agreement in found[:CUSTOMER_SUGGESTIONS]]


def pdf_response(data, filename, *, attachment=False):
    response = HttpResponse(data, content_type="application/pdf")
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def signed_pdf_response(version):
    if not version.signed_pdf:
        raise Http404("The signed PDF is not ready yet")
    with version.signed_pdf.open("rb") as handle:
        data = handle.read()
    return pdf_response(
        data, f"{version.agreement.number}-v{version.number}-signed.pdf", attachment=True
    )


def pdf_pending(versions) -> bool:
    """Whether a version signed by both parties still waits for its PDF (the worker renders it
    after the last signature): the pages showing it poll until it is there."""
    return any(v.status == AgreementVersion.Status.SIGNED and not v.signed_pdf for v in versions)


def sign_view(request, version, sign, *, done_url, party):
    """The signing page of one party: the document, then the typed-name form."""
    form = SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sign(form.evidence(request))
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, "Signed. Thank you.")
            return redirect(done_url)
    doc = document_context(version, today=local_today())
    return render(
        request,
        "agreements/sign.html",
        {
            **doc,
            "document_html": document_html(doc),
            "form": form,
            "party": party,
            "cancel_url": done_url,
        },
    )


def warn_recorded_parties(request, awaiting):
    """After a customer was saved (staff form or admin): for each of its versions awaiting
    signature whose recorded name or address now differs, say it keeps what was sent and link
    to recalling and resending it."""
    for version in awaiting:
        notice = signing.recorded_parties_notice(version)
        if notice and version.status == version.Status.SENT:
            url = reverse("agreements:agreement_resend", args=[version.agreement_id])
            notice = format_html(
                '{} <a href="{}" class="alert-link">Recall and resend…</a>', notice, url
            )
        if notice:
            messages.warning(request, notice)


def termination_refused(request, agreement):
    """The answer (403) to a customer user who may not file or withdraw the termination request."""
    return render(
        request,
        "portal/termination_refused.html",
        {"agreement": agreement, "refusal": signing.termination_refusal(agreement)},
        status=403,
    )


def withdraw_view(request, pk, *, done):
    """Confirm, then withdraw a standing termination request the user may see; then go to the
    agreement's page named ``done``."""
    termination = get_object_or_404(
        TerminationRequest.objects.for_user(request.user).select_related("agreement"), pk=pk
    )
    done_url = reverse(done, args=[termination.agreement_id])
    if not signing.may_request_termination(termination.agreement, request.user):
        return termination_refused(request, termination.agreement)
    if request.method == "POST":
        try:
            lifecycle.withdraw_termination_request(termination, by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, "The termination request is withdrawn; the agreement renews as usual."
            )
        return redirect(done_url)
    return render(
        request,
        "allora/confirm.html",
        {
            "title": "Withdraw the termination request?",
            "body": "The agreement would then renew as usual on "
            f"{termination.agreement.latest_term.end:%B %-d, %Y} unless a new written request "
            "is filed.",
            "confirm_label": "Withdraw the request",
            "cancel_url": done_url,
        },
    )


def lifecycle_context(agreement, latest, *, finalized_only):
    """The standing termination request and the next term's rates, for the agreement pages
    (the requests and reviews as `get_agreement_page` prefetched them)."""
    standing = next(
        (
            request
            for request in agreement.termination_requests.all()
            if request.status == TerminationRequest.Status.STANDING
        ),
        None,
    )
    review = None
    if latest is not None:
        review = next(
            (
                review
                for review in agreement.rate_reviews.all()
                if review.term_number == latest.number + 1
                and (review.status == RateReview.Status.FINALIZED or not finalized_only)
            ),
            None,
        )
    # A late increase's window to end at the term end without it (unless a request already does).
    opt_out_open = (
        review is not None
        and review.opt_out_open(local_today())
        and not (standing and standing.effective_end <= latest.end)
    )
    return {
        "standing_request": standing,
        "standing_message": lifecycle.termination_message(standing) if standing else "",
        "next_review": review,
        "next_term_start": latest.end if latest else None,
        "opt_out_until": review.opt_out_until if opt_out_open else None,
        "opt_out_last_day": latest.last_day if opt_out_open else None,
        **(lifecycle.next_term_comparison(agreement, latest, review) if review else {}),
    }
