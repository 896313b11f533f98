"""The customer's agreements: the list, an agreement's page (its document, terms, signed
versions and history), signing, the signed PDFs, and asking to end it (or withdrawing that)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from agreements import lifecycle, signing
from agreements.document import document_context, document_html
from agreements.forms import TerminationRequestForm
from agreements.models import Agreement, AgreementEvent, AgreementVersion, TerminationRequest
from agreements.pages import (
    commitment_context,
    get_agreement_for_user,
    get_agreement_page,
    lifecycle_context,
    pdf_pending,
    sign_view,
    signed_pdf_response,
    termination_refused,
    withdraw_view,
)
from allora.tenancy import portal_required
from allora.timeutils import local_today

SIGNED = (AgreementVersion.Status.SIGNED, AgreementVersion.Status.SUPERSEDED)
AGREEMENTS_PAGE = 25  # a customer with many sites may have hundreds (issue 14)


def _portal_version(agreement):
    """What the customer sees: the version awaiting them, else the one in force."""
    version = (
        agreement.versions.exclude(status=AgreementVersion.Status.DRAFT)
        .select_related("terms_template", "signer")
        .order_by("-number")
        .first()
    )
    if version is None:
        raise Http404("This agreement has not been sent yet")
    return version


@portal_required
def agreement_list(request):
    agreements = (
        Agreement.objects.for_user(request.user)
        .exclude(status=Agreement.Status.DRAFT)
        .prefetch_related("terms")
        .order_by("-created_at", "-id")
    )
    page = Paginator(agreements, AGREEMENTS_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/agreement_list.html", {"agreements": page, "page": page})


@portal_required
def agreement_detail(request, pk):
    agreement = get_agreement_page(request.user, pk)
    versions = list(agreement.versions.all())  # newest first; each table is read once
    version = next((v for v in versions if v.status != AgreementVersion.Status.DRAFT), None)
    if version is None:
        raise Http404("This agreement has not been sent yet")
    today = local_today()
    latest = agreement.latest_term
    # One read of the user's contact for both rights (the signer is the customer's, whatever
    # the version).
    is_signer = signing.authorized_signer(version, request.user) is not None
    # The document, and the page, print the term in force.
    document = {
        **document_context(version, today=today),
        "term": agreement.current_term(today=today) or latest,
    }
    return render(
        request,
        "portal/agreement_detail.html",
        {
            **document,
            "document_html": document_html(document),
            **lifecycle_context(agreement, latest, finalized_only=True),
            **commitment_context(agreement, today=today),
            "agreement": agreement,
            "version": version,
            "can_sign": signing.can_sign(version, request.user, is_signer=is_signer),
            "may_end": signing.may_request_termination(
                agreement, request.user, is_signer=is_signer
            ),
            "signed_versions": [v for v in versions if v.status in SIGNED],
            "pdf_pending": pdf_pending(versions),
            "events": agreement.events.filter(kind__in=AgreementEvent.CUSTOMER_KINDS)[:50],
        },
    )


@portal_required
def agreement_sign(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    version = _portal_version(agreement)
    if not signing.can_sign(version, request.user):
        if version.status == AgreementVersion.Status.SENT:
            messages.error(
                request,
                f"Only an authorized signer of {agreement.customer} can sign this agreement.",
            )
        else:
            messages.info(request, "This agreement is not waiting for your signature.")
        return redirect("portal:agreement_detail", pk=agreement.pk)
    return sign_view(
        request,
        version,
        lambda evidence: signing.sign_as_customer(version, user=request.user, evidence=evidence),
        done_url=reverse("portal:agreement_detail", args=[agreement.pk]),
        party=agreement.customer.legal_name,
    )


@portal_required
def signed_documents(request, pk):
    """The agreement page's "Signed documents" card, polled while a signed PDF is being
    prepared (it stops asking once every PDF is there)."""
    agreement = get_agreement_for_user(request.user, pk)
    versions = list(agreement.versions.exclude(status=AgreementVersion.Status.DRAFT))
    if not versions:
        raise Http404("This agreement has not been sent yet")
    return render(
        request,
        "portal/_signed_documents.html",
        {
            "agreement": agreement,
            "version": versions[0],  # newest first
            "signed_versions": [v for v in versions if v.status in SIGNED],
            "pdf_pending": pdf_pending(versions),
        },
    )


@portal_required
def signed_pdf(request, pk):
    versions = AgreementVersion.objects.for_user(request.user).select_related("agreement")
    return signed_pdf_response(get_object_or_404(versions, pk=pk))


# Termination requests ---------------------------------------------------------------------


@portal_required
def terminate(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    if not signing.may_request_termination(agreement, request.user):
        return termination_refused(request, agreement)
    today = local_today()
    try:
        outcome = lifecycle.termination_outcome(agreement, received_on=today)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("portal:agreement_detail", pk=agreement.pk)
    form = TerminationRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            filed = lifecycle.file_termination_request(
                agreement,
                by=request.user,
                received_at=timezone.now(),
                reason=form.cleaned_data["reason"],
                typed_name=form.cleaned_data["typed_name"],
                channel=TerminationRequest.Channel.PORTAL,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, lifecycle.termination_message(filed))
            return redirect("portal:agreement_detail", pk=agreement.pk)
    # Past the deadline yet timely: a late rate increase's opt-out window is open.
    opt_out = (
        lifecycle.open_opt_out(agreement, term_number=outcome.term_number + 1, on=today)
        if outcome.timely and today > outcome.deadline
        else None
    )
    return render(
        request,
        "portal/terminate.html",
        {
            "agreement": agreement,
            "form": form,
            "deadline": outcome.deadline,
            "timely": outcome.timely,
            "last_day": outcome.last_day,
            "renews_on": outcome.renews_on,
            "opt_out_until": opt_out.opt_out_until if opt_out else None,
        },
    )


@portal_required
def withdraw_termination(request, pk):
    return withdraw_view(request, pk, done="portal:agreement_detail")
