"""The staff pages of customers, contacts, agreements (drafting, sending, countersigning,
amending), renewal review and termination requests. The customer's side of the same agreements is
in ``portal/views/agreements.py``; what both use is in ``agreements/pages.py``."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.timesince import timeuntil
from django.views.decorators.http import require_GET, require_POST

from allora.history import timeline
from allora.pagination import page_slice
from allora.sorting import Sorting
from allora.spreadsheet import queryset_download
from allora.statements import Read, counted
from allora.templatetags.listing import row_url, short_date
from allora.tenancy import admin_required, staff_required
from allora.timeutils import local_today
from billing.credits import credit_balance
from scheduling.blocks import version_block_overruns
from scheduling.models import CalendarFeed
from scheduling.pages import regenerate_feed_view

from . import lifecycle, services, signing
from .document import document_context, document_html, version_parties
from .forms import (
    AgreementCreateForm,
    BulkRateReviewForm,
    ContactForm,
    CustomerForm,
    FinalizeRateReviewForm,
    RateReviewForm,
    RecordTerminationForm,
    SendForm,
    VersionForm,
)
from .models import (
    Agreement,
    AgreementEvent,
    AgreementVersion,
    Contact,
    Customer,
    FrozenContentError,
    RateReview,
    ServiceKind,
    ServiceLine,
    Term,
    TerminationRequest,
)
from .pages import (
    agreement_suggestions,
    commitment_context,
    customer_filter,
    customer_suggestions,
    get_agreement_for_user,
    get_agreement_page,
    lifecycle_context,
    line_forms,
    pdf_pending,
    pdf_response,
    sign_view,
    signed_pdf_response,
    warn_recorded_parties,
    withdraw_view,
)
from .pdf import agreement_pdf as agreement_pdf_bytes
from .rules import RENEWAL_WINDOW
from .signing import check_ready_to_send

AWAITING = (AgreementVersion.Status.SENT, AgreementVersion.Status.CUSTOMER_SIGNED)


CUSTOMER_SORTING = Sorting(
    {"name": ("legal_name",), "city": ("city", "legal_name"), "status": ("status", "legal_name")},
    default="name",
)
CUSTOMER_COLUMNS = (
    "Customer", "Address", "Address (line 2)", "City", "State", "Postal code", "Phone",
    "Contacts", "Status",
)  # fmt: skip


def _customer_row(c):
    address = (c.address_line1, c.address_line2, c.city, c.state, c.postal_code)
    return (c.legal_name, *address, c.phone, c.contact_count, c.get_status_display())


@staff_required
def customer_list(request, export=False):
    """The customers, filtered and sorted; ``export``: the same list as a CSV download."""
    # The count as a subquery per shown customer, not a GROUP BY over every customer and contact.
    contacts = Contact.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
    customers = Customer.objects.annotate(
        contact_count=Coalesce(Subquery(contacts.annotate(n=Count("pk")).values("n")), 0)
    )
    query = request.GET.get("q", "").strip()[:200]
    status = request.GET.get("status", "")
    if query:
        customers = customers.filter(Q(legal_name__icontains=query) | Q(city__icontains=query))
    if status in Customer.Status.values:
        customers = customers.filter(status=status)
    sort = CUSTOMER_SORTING.parse(request.GET)
    customers = sort.apply(customers)
    if export:
        return queryset_download("customers.csv", CUSTOMER_COLUMNS, customers, _customer_row)
    page = Paginator(customers, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "agreements/customer_list.html",
        {
            "page": page,
            "query": query,
            "status": status,
            "statuses": Customer.Status.choices,
            "sort": sort,
        },
    )


@staff_required
def customer_create(request):
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = form.save()
        messages.success(request, f"Customer {customer} created. Add its contacts next.")
        return redirect("agreements:customer_detail", pk=customer.pk)
    return render(request, "agreements/customer_form.html", {"form": form})


@staff_required
def customer_detail(request, pk):
    customer = get_object_or_404(Customer, pk=pk)
    contacts = customer.contacts.select_related("user")
    history = timeline(
        (customer.history.all(), lambda record: "Customer"),
        (
            Contact.history.filter(customer_id=customer.pk),
            lambda record: f"Contact {record.name}",
        ),
        (CalendarFeed.history.filter(customer_id=customer.pk), lambda record: "Calendar feed"),
    )
    return render(
        request,
        "agreements/customer_detail.html",
        {
            "customer": customer,
            "contacts": contacts,
            "history": history,
            "agreements": customer.agreements.order_by("-created_at"),
            "credit": credit_balance(customer),
        },
    )


@staff_required
def customer_edit(request, pk):
    customer = get_object_or_404(Customer, pk=pk)
    # Versions awaiting signature keep the name and address they were sent with: say so first.
    awaiting = list(signing.awaiting_signature(customer))
    form = CustomerForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Customer saved.")
        warn_recorded_parties(request, awaiting)
        return redirect("agreements:customer_detail", pk=customer.pk)
    return render(
        request,
        "agreements/customer_form.html",
        {"form": form, "customer": customer, "awaiting": awaiting},
    )


@staff_required
def customer_feed_rotate(request, pk):
    """Confirm, then give the customer's calendar feed a new address (the old one is a 404)."""
    customer = get_object_or_404(Customer, pk=pk)
    url = reverse("agreements:customer_detail", args=[customer.pk])
    return regenerate_feed_view(
        request,
        CalendarFeed.for_customer(customer),
        done=url,
        cancel_url=url,
        reason="New address, made by Allora staff",
    )


@staff_required
def contact_create(request, customer_pk):
    customer = get_object_or_404(Customer, pk=customer_pk)
    form = ContactForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        contact = form.save()
        messages.success(request, f"Contact {contact.name} added.")
        return redirect("agreements:customer_detail", pk=customer.pk)
    return render(request, "agreements/contact_form.html", {"form": form, "customer": customer})


@staff_required
def contact_edit(request, pk):
    contact = get_object_or_404(Contact.objects.select_related("customer", "user"), pk=pk)
    form = ContactForm(request.POST or None, instance=contact, customer=contact.customer)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Contact {contact.name} saved.")
        return redirect("agreements:customer_detail", pk=contact.customer_id)
    return render(
        request,
        "agreements/contact_form.html",
        {"form": form, "customer": contact.customer, "contact": contact},
    )


@staff_required
@require_POST
def contact_invite(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    try:
        user = services.invite_contact(contact, invited_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Invitation sent to {user.email}.")
    return redirect("agreements:customer_detail", pk=contact.customer_id)


@staff_required
def contact_revoke(request, pk):
    contact = get_object_or_404(Contact.objects.select_related("customer"), pk=pk)
    if request.method == "POST":
        services.revoke_portal_access(contact)
        messages.success(
            request,
            f"{contact.name} can no longer sign in to the portal; their password and API tokens "
            "no longer work.",
        )
        return redirect("agreements:customer_detail", pk=contact.customer_id)
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Revoke portal access for {contact.name}?",
            "body": "They will no longer be able to sign in: their password and API tokens stop "
            "working, and if nobody else of the customer uses the portal, the customer's calendar "
            "feed gets a new address. Their history is kept; invited again later, they choose a "
            "new password.",
            "confirm_label": "Revoke access",
            "cancel_url": reverse("agreements:customer_detail", args=[contact.customer_id]),
        },
    )


# Agreements ---------------------------------------------------------------------------------


def _latest_version(agreement):
    return agreement.versions.select_related("terms_template", "signer").order_by("-number").first()


# Number and creation are indexed; the customer's name and the status are plain columns the
# page's COUNT reads anyway. The current term's start is a subquery per row shown, not sorted on.
AGREEMENT_SORTING = Sorting(
    {
        "number": ("number",),
        "customer": ("customer__legal_name", "number"),
        "status": ("status", "-created_at"),
        "created": ("created_at",),
    },
    default="-created",
)
AGREEMENT_COLUMNS = (
    "Agreement", "Customer", "Status", "Created", "Term start", "Term last day",
    "Notice deadline",
)  # fmt: skip


def _agreement_row(agreement):
    term = agreement.listed_term
    dates = (term.start, term.last_day, term.notice_deadline) if term else ("", "", "")
    created = agreement.created_at.date()
    return (agreement.number, agreement.customer, agreement.get_status_display(), created, *dates)


@staff_required
def agreement_list(request, export=False):
    """The agreements, filtered and sorted; ``export``: the same list as a CSV download."""
    agreements = Agreement.objects.select_related("customer").with_latest_term_dates()
    status = request.GET.get("status", "")
    number = request.GET.get("number", "").strip()[:20]
    customer = customer_filter(request)
    if status in Agreement.Status.values:
        agreements = agreements.filter(status=status)
    if number:
        agreements = agreements.filter(number__icontains=number)
    sort = AGREEMENT_SORTING.parse(request.GET)
    agreements = sort.apply(customer.apply(agreements))
    if export:
        return queryset_download("agreements.csv", AGREEMENT_COLUMNS, agreements, _agreement_row)
    page = Paginator(agreements, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "agreements/agreement_list.html",
        {
            "page": page,
            "status": status,
            "number": number,
            "customer": customer,
            "statuses": Agreement.Status.choices,
            "sort": sort,
        },
    )


@staff_required
def customer_options(request):
    """The search box's suggestions (htmx): the first legal names containing what was typed."""
    options = customer_suggestions(
        request.GET.get("customer_name", ""), active_only=request.GET.get("active") == "1"
    )
    return render(request, "agreements/_search_options.html", {"options": options})


@staff_required
def agreement_options(request):
    """The agreement search box's suggestions (htmx): the first live agreements whose number or
    customer's name contains what was typed."""
    options = agreement_suggestions(request.GET.get("agreement_name", ""))
    return render(request, "agreements/_search_options.html", {"options": options})


@staff_required
def agreement_create(request):
    today = local_today()
    initial = {"customer": request.GET.get("customer")}
    form = AgreementCreateForm(request.POST or None, initial=initial, today=today)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "customer"}
        version = services.create_agreement(
            form.cleaned_data["customer"], by=request.user, today=today, **fields
        )
        messages.success(
            request, f"Agreement {version.agreement.number} drafted. Add its services."
        )
        return redirect("agreements:agreement_detail", pk=version.agreement_id)
    return render(request, "agreements/agreement_form.html", {"form": form})


@staff_required
def agreement_detail(request, pk):
    agreement = get_agreement_page(request.user, pk)
    versions = list(agreement.versions.all())  # newest first; each table is read once
    version = agreement.latest_version()  # from the same prefetched rows
    today = local_today()
    try:
        document = document_context(version, today=today)
    except ValidationError as error:
        document = None
        messages.warning(request, " ".join(error.messages))
    overruns = {}
    if version.is_draft:
        snapshot = document["snapshot"] if document else None
        blocks = version_block_overruns(version, today=today, snapshot=snapshot)
        overruns = {item.line.pk: item for item in blocks}
    return render(
        request,
        "agreements/agreement_detail.html",
        {
            **(document or {}),
            "document_html": document_html(document) if document else "",
            "agreement": agreement,
            "version": version,
            "has_document": document is not None,
            "problems": check_ready_to_send(version) if version.is_draft else [],
            "parties_changed": version.status in AWAITING and signing.parties_changed(version),
            # Exhibit B lines with their schedule's overrun of the block (None: it fits).
            "draft_lines": [
                (line, amount, overruns.get(line.pk))
                for line, amount in (document or {}).get("lines", [])
            ],
            "versions": versions,
            "pdf_pending": pdf_pending(versions),
            "agreement_terms": sorted(agreement.terms.all(), key=lambda term: term.number),
            "events": _EVENTS.run(agreement=agreement.pk),
            "kinds": ServiceKind.choices,
            "requests": agreement.termination_requests.all(),
            **lifecycle_context(agreement, agreement.latest_term, finalized_only=False),
            **commitment_context(agreement, today=today),
        },
    )


# The page's latest 50 events, with who did what.
_EVENTS = Read(
    lambda agreement: AgreementEvent.objects.filter(agreement_id=agreement).select_related("actor")[
        :50
    ],
    agreement=int,
)


@staff_required
def agreement_versions(request, pk):
    """The agreement page's list of versions, polled while a signed PDF is being prepared."""
    agreement = get_agreement_for_user(request.user, pk)
    versions = list(agreement.versions.all())
    return render(
        request,
        "agreements/_versions.html",
        {"agreement": agreement, "versions": versions, "pdf_pending": pdf_pending(versions)},
    )


def _draft_or_redirect(request, version):
    if version.is_draft:
        return None
    messages.error(request, FrozenContentError().messages[0])
    return redirect("agreements:agreement_detail", pk=version.agreement_id)


@staff_required
def version_edit(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    version = _latest_version(agreement)
    if response := _draft_or_redirect(request, version):
        return response
    form = VersionForm(request.POST or None, instance=version, today=local_today())
    if request.method == "POST" and form.is_valid():
        services.save_draft_settings(form, by=request.user)
        messages.success(request, "Agreement settings saved.")
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    return render(request, "agreements/agreement_form.html", {"form": form, "agreement": agreement})


@staff_required
def line_create(request, pk, kind):
    agreement = get_agreement_for_user(request.user, pk)
    version = _latest_version(agreement)
    if kind not in ServiceKind.values:
        raise Http404("No such kind of service")
    if response := _draft_or_redirect(request, version):
        return response
    return _line_form_view(request, version, kind, None)


@staff_required
def line_edit(request, pk):
    line = get_object_or_404(ServiceLine.objects.select_related("version__agreement"), pk=pk)
    if response := _draft_or_redirect(request, line.version):
        return response
    return _line_form_view(request, line.version, line.kind, line)


def _line_form_view(request, version, kind, instance):
    form, schedule = line_forms(
        request.POST or None,
        kind=kind,
        instance=instance,
        tz=version.agreement.time_zone,
        anchor=version.start_date,
        today=local_today(),
    )
    forms_valid = form.is_valid() if request.method == "POST" else False
    if schedule is not None and request.method == "POST":
        forms_valid = schedule.is_valid() and forms_valid
    if forms_valid:
        line = services.save_service_line(
            form.save(commit=False),
            version=version,
            kind=kind,
            schedule=schedule.cleaned_data if schedule is not None else None,
            by=request.user,
        )
        verb = "changed" if instance else "added"
        messages.success(request, f"{line.get_kind_display()} {verb}.")
        return redirect("agreements:agreement_detail", pk=version.agreement_id)
    return render(
        request,
        "agreements/line_form.html",
        {
            "form": form,
            "schedule_form": schedule,
            "version": version,
            "agreement": version.agreement,
            "kind_label": ServiceKind(kind).label,
            "line": instance,
            "schedule_anchor": (version.start_date or local_today()).isoformat(),
        },
    )


@staff_required
def line_delete(request, pk):
    line = get_object_or_404(ServiceLine.objects.select_related("version__agreement"), pk=pk)
    if response := _draft_or_redirect(request, line.version):
        return response
    agreement = line.version.agreement
    if request.method == "POST":
        services.remove_service_line(line, by=request.user)
        messages.success(request, f"{line.get_kind_display()} removed.")
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Remove this {line.get_kind_display()} line?",
            "body": str(line),
            "confirm_label": "Remove",
            "cancel_url": reverse("agreements:agreement_detail", args=[agreement.pk]),
        },
    )


@staff_required
def agreement_pdf(request, pk):
    """The PDF of the latest version as it stands (a preview for drafts)."""
    agreement = get_agreement_for_user(request.user, pk)
    version = _latest_version(agreement)
    try:
        data = agreement_pdf_bytes(version, today=local_today())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    return pdf_response(data, f"{agreement.number}-v{version.number}-preview.pdf")


@staff_required
def agreement_send(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    version = _latest_version(agreement)
    if response := _draft_or_redirect(request, version):
        return response
    form = SendForm(request.POST or None, customer=agreement.customer)
    if request.method == "POST" and form.is_valid():
        try:
            signing.send_for_signature(
                version, signer=form.cleaned_data["signer"], by=request.user, today=local_today()
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, f"Sent to {form.cleaned_data['signer'].name} for signature.")
            return redirect("agreements:agreement_detail", pk=agreement.pk)
    return render(
        request,
        "agreements/agreement_send.html",
        {
            "form": form,
            "agreement": agreement,
            "version": version,
            "block_overruns": version_block_overruns(version, today=local_today()),
        },
    )


@staff_required
@require_POST
def agreement_recall(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    return _act(
        request,
        agreement,
        lambda: signing.recall(_latest_version(agreement), by=request.user),
        "Recalled to draft: you can edit it again.",
    )


@staff_required
def agreement_resend(request, pk):
    """Confirm, then recall the version awaiting signature and send it again to the same signer,
    with the customer's name and address as they are now."""
    agreement = get_agreement_for_user(request.user, pk)
    version = _latest_version(agreement)
    if version.status != AgreementVersion.Status.SENT:
        messages.info(request, "This version is not waiting for the customer's signature.")
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    if request.method == "POST":
        return _act(
            request,
            agreement,
            lambda: signing.resend(version, by=request.user, today=local_today()),
            f"Sent again to {version.signer.name}, with the customer's current name and address.",
        )
    recorded = version_parties(version)["customer"]
    customer = agreement.customer
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Recall and resend {agreement.number} version {version.number}?",
            "body": f"It was sent naming {recorded['legal_name']}, {recorded['address']}. "
            f"It goes back to draft and is sent again, naming {customer.legal_name}, "
            f"{customer.address} (with Exhibit A from the rate card in effect today); "
            f"{version.signer.name} gets a new signature request.",
            "confirm_label": "Recall and resend",
            "cancel_url": reverse("agreements:agreement_detail", args=[agreement.pk]),
        },
    )


@staff_required
@require_POST
def agreement_amend(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    return _act(
        request,
        agreement,
        lambda: signing.start_amendment(agreement, by=request.user),
        "Amendment drafted: change it, then send it for signature.",
    )


@staff_required
@require_POST
def version_verify(request, pk):
    version = get_object_or_404(AgreementVersion, pk=pk)
    intact, message = signing.verify_signed_pdf(version)
    (messages.success if intact else messages.error)(request, message)
    return redirect("agreements:agreement_detail", pk=version.agreement_id)


def _act(request, agreement, action, success):
    try:
        action()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)
    return redirect("agreements:agreement_detail", pk=agreement.pk)


@admin_required
def agreement_countersign(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    version = _latest_version(agreement)
    if version.status != AgreementVersion.Status.CUSTOMER_SIGNED:
        messages.info(request, "This version is not waiting for Allora's signature.")
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    return sign_view(
        request,
        version,
        lambda evidence: signing.countersign(version, user=request.user, evidence=evidence),
        done_url=reverse("agreements:agreement_detail", args=[agreement.pk]),
        party="Allora",
    )


@staff_required
def signed_pdf(request, pk):
    versions = AgreementVersion.objects.for_user(request.user).select_related("agreement")
    return signed_pdf_response(get_object_or_404(versions, pk=pk))


# Renewal review (admins) -------------------------------------------------------------------


RENEWALS_PAGE = 25


def _queue_facts():
    """What a queue row shows of the latest term, the standing request and the next term's
    review, as subqueries of the page query (index probes for the page's rows only, not three
    prefetches). Built once: building them costs more than running them."""
    latest = Term.objects.filter(agreement=OuterRef("pk")).order_by("-number")
    standing = TerminationRequest.objects.filter(
        agreement=OuterRef("pk"), status=TerminationRequest.Status.STANDING
    ).order_by("-received_at")
    review = RateReview.objects.filter(
        agreement=OuterRef("pk"), term_number=OuterRef("queue_term_number") + 1
    )
    return {
        "queue_term_number": Subquery(latest.values("number")[:1]),
        **{
            f"queue_request_{field}": Subquery(standing.values(field)[:1])
            for field in ("timely", "effective_end")
        },
        **{
            f"queue_review_{field}": Subquery(review.values(field)[:1])
            for field in ("method", "uplift_percent", "status")
        },
    }


QUEUE_FACTS = _queue_facts()


def _renewal_window(today, last=None):
    """The window with what the queue shows (a row's columns only)."""
    return (
        Agreement.objects.in_renewal_window(today, last)
        .select_related("customer")
        .only("id", "number", "status", "term_end", "customer__id", "customer__legal_name")
        .annotate(**QUEUE_FACTS)
    )


_RENEWAL_PAGE = Read(
    lambda order, start, stop, today, last: _renewal_window(today, last).order_by(*order)[
        start:stop
    ],
    today=dt.date,
    last=dt.date,
)
_RENEWAL_COUNT = Read(
    lambda today, last: counted(Agreement.objects.in_renewal_window(today, last)),
    today=dt.date,
    last=dt.date,
)
RENEWAL_SORTING = Sorting(
    {
        "end": ("term_end", "number"),
        "number": ("number",),
        "customer": ("customer__legal_name", "number"),
    },
    default="end",
)
RENEWAL_COLUMNS = (
    "Agreement", "Customer", "Term last day", "Notice deadline", "Termination request",
    "Request takes effect after", "Next-term rates", "Uplift (%)", "Review status",
)  # fmt: skip


def _two_places(percent):
    """A percentage read through a subquery as the column reads it (SQLite leaves 5, not 5.00)."""
    return None if percent is None else percent.quantize(Decimal("0.01"))


def _with_queue_facts(agreement):
    """The agreement with what its queue row shows: its latest term, standing termination
    request and the rate review of the next term (from the window's annotations)."""
    number = agreement.queue_term_number
    agreement.queue_term = Term(agreement_id=agreement.pk, number=number, end=agreement.term_end)
    agreement.queue_request = (
        TerminationRequest(
            agreement_id=agreement.pk,
            timely=agreement.queue_request_timely,
            effective_end=agreement.queue_request_effective_end,
        )
        if agreement.queue_request_effective_end
        else None
    )
    agreement.queue_review = (
        RateReview(
            agreement_id=agreement.pk,
            term_number=number + 1,
            method=agreement.queue_review_method,
            uplift_percent=_two_places(agreement.queue_review_uplift_percent),
            status=agreement.queue_review_status,
        )
        if agreement.queue_review_method
        else None
    )
    return agreement


@dataclass(frozen=True, slots=True)
class RenewalRow:
    """One row of the renewal queue as the page prints it, each cell worked out once here so the
    template prints strings (issue 14: resolving the cells through the agreement, its term,
    request and review and their filters took the template about 150 us a row)."""

    pk: int
    number: str
    url: str
    customer: str
    last_day: str
    time_left: str  # until the term's end, as Django's |timeuntil prints it
    notice_deadline: str
    request_timely: bool | None  # None: no standing request
    request_last_day: str
    review_method: str  # "": not reviewed
    review_uplift: str  # "" when the method has no uplift
    review_status: str


def _renewal_rows(agreements, *, today):
    time_left: dict = {}  # by term end: the page's rows share a few ends, sorted by end
    rows = []
    for agreement in agreements:
        _with_queue_facts(agreement)
        term, request, review = (
            agreement.queue_term,
            agreement.queue_request,
            agreement.queue_review,
        )
        if term.end not in time_left:
            time_left[term.end] = timeuntil(term.end, today)
        rows.append(
            RenewalRow(
                pk=agreement.pk,
                number=agreement.number,
                url=row_url("agreements:renewal_review", agreement.pk),
                customer=agreement.customer.legal_name,
                last_day=short_date(term.last_day),
                time_left=time_left[term.end],
                notice_deadline=short_date(term.notice_deadline),
                request_timely=request.timely if request else None,
                request_last_day=short_date(request.last_day) if request else "",
                review_method=review.get_method_display() if review else "",
                review_uplift=""
                if review is None or review.uplift_percent is None
                else str(review.uplift_percent),
                review_status=review.get_status_display() if review else "",
            )
        )
    return rows


def _renewal_row(agreement):
    _with_queue_facts(agreement)
    term, request, review = (
        agreement.queue_term,
        agreement.queue_request,
        agreement.queue_review,
    )
    timing = ("Timely" if request.timely else "Late", request.last_day) if request else ("", "")
    rates = (
        (review.get_method_display(), review.uplift_percent, review.get_status_display())
        if review
        else ("Not reviewed (renews as is)", "", "")
    )
    facts = (agreement.number, agreement.customer, term.last_day, term.notice_deadline)
    return (*facts, *timing, *rates)


@admin_required
def renewal_queue(request, export=False):
    today = local_today()
    sort = RENEWAL_SORTING.parse(request.GET)
    if export:
        window = sort.apply(_renewal_window(today))
        return queryset_download(f"renewals-{today}.csv", RENEWAL_COLUMNS, window, _renewal_row)
    # A page at a time: at 10,000 agreements a quarter of them end within 90 days (issue 14).
    # The count reads the index alone, no subqueries; the page's rows are a read compiled once
    # per order and page (its six subqueries cost more to build than to run).
    window_days = {"today": today, "last": today + RENEWAL_WINDOW}
    [(count,)] = _RENEWAL_COUNT.run(**window_days)
    page = Paginator(range(count), RENEWALS_PAGE).get_page(request.GET.get("page"))
    shape = (tuple(sort.order_by()), *page_slice(page))
    page.object_list = _RENEWAL_PAGE.run(shape=shape, **window_days)
    # The bulk form's choices, printed by the page (it posts to `renewal_bulk`, which checks
    # them): three radio widgets rendered through Django's templates cost a tenth of the page.
    method = BulkRateReviewForm.base_fields["method"]
    methods = [(value, label, value == method.initial) for value, label in method.choices]
    return render(
        request,
        "agreements/renewal_queue.html",
        {"rows": _renewal_rows(page, today=today), "page": page, "methods": methods, "sort": sort},
    )


@admin_required
@require_POST
def renewal_bulk(request):
    today = local_today()
    form = BulkRateReviewForm(
        request.POST, queryset=Agreement.objects.in_renewal_window(today).select_related("customer")
    )
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("agreements:renewal_queue")
    done, problems = 0, []
    for agreement in form.cleaned_data["agreements"]:
        try:
            lifecycle.save_rate_review(
                agreement,
                method=form.cleaned_data["method"],
                uplift_percent=form.cleaned_data["uplift_percent"],
                by=request.user,
                today=today,
            )
            done += 1
        except ValidationError as error:
            problems.append(f"{agreement.number}: {' '.join(error.messages)}")
    if done:
        messages.success(request, f"Next-term rates drafted for {done} agreement(s).")
    for problem in problems:
        messages.error(request, problem)
    return redirect("agreements:renewal_queue")


@admin_required
def renewal_review(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    today = local_today()
    term = agreement.latest_term
    if term is None or not agreement.is_live:
        raise Http404("This agreement has no term to renew")
    review = agreement.rate_reviews.filter(term_number=term.number + 1).first()
    initial = {"method": review.method, "uplift_percent": review.uplift_percent} if review else {}
    form = RateReviewForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            lifecycle.save_rate_review(
                agreement,
                method=form.cleaned_data["method"],
                uplift_percent=form.cleaned_data["uplift_percent"],
                by=request.user,
                today=today,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, "Next-term rates saved as a draft. Finalize them to tell the customer."
            )
            return redirect("agreements:renewal_review", pk=agreement.pk)
    late = None
    if review and review.status == RateReview.Status.DRAFT:
        late = lifecycle.late_increase(review, today=today)
    return render(
        request,
        "agreements/renewal_review.html",
        {
            "agreement": agreement,
            "term": term,
            "review": review,
            "form": form,
            "late_warning": FinalizeRateReviewForm(late=late).warning,
            **lifecycle.next_term_comparison(agreement, term, review),
        },
    )


@admin_required
@require_GET
def renewal_review_preview(request, pk):
    """The htmx fragment under the review form: the next term's rates and monthly total as the
    form stands, before it is saved."""
    agreement = get_agreement_for_user(request.user, pk)
    term = agreement.latest_term
    if term is None or not agreement.is_live:
        raise Http404("This agreement has no term to renew")
    form = RateReviewForm(request.GET)
    context = {"form": form}
    if form.is_valid():
        try:
            context.update(
                lifecycle.proposed_comparison(
                    agreement,
                    term,
                    method=form.cleaned_data["method"],
                    uplift_percent=form.cleaned_data["uplift_percent"],
                )
            )
        except ValidationError as error:
            form.add_error(None, error)
    return render(request, "agreements/_rate_preview.html", context)


@admin_required
def renewal_finalize(request, pk):
    review = get_object_or_404(RateReview.objects.select_related("agreement"), pk=pk)
    agreement = review.agreement
    today = local_today()
    late = None
    if review.status == RateReview.Status.DRAFT:
        late = lifecycle.late_increase(review, today=today)
    form = FinalizeRateReviewForm(request.POST if request.method == "POST" else None, late=late)
    if request.method == "POST" and form.is_valid():
        try:
            lifecycle.finalize_rate_review(
                review,
                by=request.user,
                today=today,
                confirm_late_increase=form.cleaned_data.get("confirm_late_increase", False),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, f"Rates for term {review.term_number} finalized; the customer was told."
            )
        return redirect("agreements:renewal_review", pk=agreement.pk)
    return render(
        request,
        "agreements/renewal_finalize.html",
        {
            "agreement": agreement,
            "review": review,
            "form": form,
            "title": f"Finalize the rates of term {review.term_number} for {agreement.number}?",
            "cancel_url": reverse("agreements:renewal_review", args=[agreement.pk]),
        },
    )


# Termination requests ---------------------------------------------------------------------


@staff_required
def record_termination(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    form = RecordTerminationForm(request.POST or None, tz=agreement.tz)
    if request.method == "POST" and form.is_valid():
        try:
            filed = lifecycle.file_termination_request(
                agreement,
                by=request.user,
                received_at=form.cleaned_data["received_at"],
                reason=form.cleaned_data["reason"],
                typed_name=form.cleaned_data["typed_name"],
                channel=form.cleaned_data["channel"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"Request recorded ({'timely' if filed.timely else 'late'}). "
                + lifecycle.termination_message(filed),
            )
            return redirect("agreements:agreement_detail", pk=agreement.pk)
    return render(
        request, "agreements/record_termination.html", {"agreement": agreement, "form": form}
    )


@staff_required
def withdraw_termination(request, pk):
    return withdraw_view(request, pk, done="agreements:agreement_detail")


@staff_required
@require_POST
def acknowledge_termination(request, pk):
    """Take a customer's termination request off the staff's queue; back to the staff home or
    the agreement, wherever the button was."""
    termination = get_object_or_404(TerminationRequest.objects.select_related("agreement"), pk=pk)
    done = _act(
        request,
        termination.agreement,
        lambda: lifecycle.acknowledge_termination_request(termination, by=request.user),
        f"Termination request for {termination.agreement.number} acknowledged: it is off the "
        "queue, and the agreement's history says you saw it.",
    )
    return redirect("staff_home") if request.POST.get("from") == "home" else done
