from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from allora.history import timeline
from allora.tenancy import admin_required, portal_required, staff_required
from allora.timeutils import local_today
from billing.services import hosting_packages
from scheduling.forms import ScheduleForm

from . import lifecycle, services
from .document import document_context
from .forms import (
    AgreementCreateForm,
    ContactForm,
    CustomerForm,
    SendForm,
    ServiceLineForm,
    SignForm,
    VersionForm,
)
from .lifecycle import check_ready_to_send
from .models import (
    Agreement,
    AgreementVersion,
    Contact,
    Customer,
    FrozenContentError,
    ServiceKind,
    ServiceLine,
)
from .pdf import agreement_pdf as agreement_pdf_bytes


@staff_required
def customer_list(request):
    customers = Customer.objects.annotate(contact_count=Count("contacts")).order_by("legal_name")
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if query:
        customers = customers.filter(Q(legal_name__icontains=query) | Q(city__icontains=query))
    if status in Customer.Status.values:
        customers = customers.filter(status=status)
    page = Paginator(customers, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "agreements/customer_list.html",
        {"page": page, "query": query, "status": status, "statuses": Customer.Status.choices},
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
    )
    return render(
        request,
        "agreements/customer_detail.html",
        {
            "customer": customer,
            "contacts": contacts,
            "history": history,
            "agreements": customer.agreements.order_by("-created_at"),
        },
    )


@staff_required
def customer_edit(request, pk):
    customer = get_object_or_404(Customer, pk=pk)
    form = CustomerForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Customer saved.")
        return redirect("agreements:customer_detail", pk=customer.pk)
    return render(request, "agreements/customer_form.html", {"form": form, "customer": customer})


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
        messages.success(request, f"{contact.name} can no longer sign in to the portal.")
        return redirect("agreements:customer_detail", pk=contact.customer_id)
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Revoke portal access for {contact.name}?",
            "body": "They will no longer be able to sign in. Their history is kept, and you can "
            "invite them again later.",
            "confirm_label": "Revoke access",
            "cancel_url": reverse("agreements:customer_detail", args=[contact.customer_id]),
        },
    )


@portal_required
def portal_home(request):
    customer = request.user.customer
    contacts = Contact.objects.for_user(request.user)
    return render(request, "portal/home.html", {"customer": customer, "contacts": contacts})


@portal_required
def portal_contact(request, pk):
    contact = get_object_or_404(Contact.objects.for_user(request.user), pk=pk)
    return render(request, "portal/contact.html", {"contact": contact})


# Agreements (staff) ---------------------------------------------------------------------


def _staff_agreement(pk):
    return get_object_or_404(Agreement.objects.select_related("customer"), pk=pk)


def _latest_version(agreement):
    return agreement.versions.select_related("terms_template", "signer").order_by("-number").first()


@staff_required
def agreement_list(request):
    agreements = Agreement.objects.select_related("customer").prefetch_related("terms")
    status = request.GET.get("status", "")
    customer = request.GET.get("customer", "")
    if status in Agreement.Status.values:
        agreements = agreements.filter(status=status)
    if customer.isdigit():
        agreements = agreements.filter(customer_id=customer)
    page = Paginator(agreements.order_by("-created_at", "-id"), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "agreements/agreement_list.html",
        {
            "page": page,
            "status": status,
            "customer": customer,
            "statuses": Agreement.Status.choices,
            "customers": Customer.objects.only("id", "legal_name"),
        },
    )


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
    agreement = _staff_agreement(pk)
    version = _latest_version(agreement)
    today = local_today()
    try:
        document = document_context(version, today=today)
    except ValidationError as error:
        document = None
        messages.warning(request, " ".join(error.messages))
    return render(
        request,
        "agreements/agreement_detail.html",
        {
            **(document or {}),
            "agreement": agreement,
            "version": version,
            "has_document": document is not None,
            "problems": check_ready_to_send(version) if version.is_draft else [],
            "versions": agreement.versions.order_by("-number"),
            "terms": agreement.terms.order_by("number"),
            "events": agreement.events.select_related("actor")[:50],
            "kinds": ServiceKind.choices,
        },
    )


def _draft_or_redirect(request, version):
    if version.is_draft:
        return None
    messages.error(request, FrozenContentError().messages[0])
    return redirect("agreements:agreement_detail", pk=version.agreement_id)


@staff_required
def version_edit(request, pk):
    agreement = _staff_agreement(pk)
    version = _latest_version(agreement)
    if response := _draft_or_redirect(request, version):
        return response
    form = VersionForm(request.POST or None, instance=version, today=local_today())
    if request.method == "POST" and form.is_valid():
        form.save()
        agreement.log("edited", f"Version {version.number} settings changed", actor=request.user)
        messages.success(request, "Agreement settings saved.")
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    return render(request, "agreements/agreement_form.html", {"form": form, "agreement": agreement})


def _line_forms(request, version, kind, instance=None):
    today = local_today()
    form = ServiceLineForm(
        request.POST or None,
        instance=instance,
        kind=kind,
        hosting_packages=hosting_packages(on=today),
    )
    schedule = None
    if kind in (ServiceKind.MAINTENANCE, ServiceKind.PRESCHEDULED):
        initial = None
        if instance is not None and instance.rrule:
            initial = ScheduleForm.initial_for(
                rrule=instance.rrule,
                start_time=instance.start_time,
                duration_minutes=instance.duration_minutes,
            )
        schedule = ScheduleForm(
            request.POST or None,
            prefix="schedule",
            initial=initial,
            tz=version.agreement.time_zone,
            anchor=version.start_date or today,
        )
    return form, schedule


@staff_required
def line_create(request, pk, kind):
    agreement = _staff_agreement(pk)
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
    form, schedule = _line_forms(request, version, kind, instance)
    forms_valid = form.is_valid() if request.method == "POST" else False
    if schedule is not None and request.method == "POST":
        forms_valid = schedule.is_valid() and forms_valid
    if forms_valid:
        line = form.save(commit=False)
        line.version = version
        line.kind = kind
        if schedule is not None:
            for field in ("rrule", "start_time", "duration_minutes", "schedule_text"):
                setattr(line, field, schedule.cleaned_data[field])
        if instance is None:
            line.position = version.lines.count()
        line.save()
        verb = "changed" if instance else "added"
        version.agreement.log(
            "edited", f"{line.get_kind_display()} line {verb}", actor=request.user
        )
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
        line.delete()
        agreement.log("edited", f"{line.get_kind_display()} line removed", actor=request.user)
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
    agreement = _staff_agreement(pk)
    version = _latest_version(agreement)
    try:
        data = agreement_pdf_bytes(version, today=local_today())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    return _pdf_response(data, f"{agreement.number}-v{version.number}-preview.pdf")


def _pdf_response(data, filename, *, attachment=False):
    response = HttpResponse(data, content_type="application/pdf")
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


@staff_required
def agreement_send(request, pk):
    agreement = _staff_agreement(pk)
    version = _latest_version(agreement)
    if response := _draft_or_redirect(request, version):
        return response
    form = SendForm(request.POST or None, customer=agreement.customer)
    if request.method == "POST" and form.is_valid():
        try:
            lifecycle.send_for_signature(
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
        {"form": form, "agreement": agreement, "version": version},
    )


@staff_required
@require_POST
def agreement_recall(request, pk):
    agreement = _staff_agreement(pk)
    return _act(
        request,
        agreement,
        lambda: lifecycle.recall(_latest_version(agreement), by=request.user),
        "Recalled to draft: you can edit it again.",
    )


@staff_required
@require_POST
def agreement_amend(request, pk):
    agreement = _staff_agreement(pk)
    return _act(
        request,
        agreement,
        lambda: lifecycle.start_amendment(agreement, by=request.user),
        "Amendment drafted: change it, then send it for signature.",
    )


@staff_required
@require_POST
def version_verify(request, pk):
    version = get_object_or_404(AgreementVersion, pk=pk)
    intact, message = lifecycle.verify_signed_pdf(version)
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
    agreement = _staff_agreement(pk)
    version = _latest_version(agreement)
    if version.status != AgreementVersion.Status.CUSTOMER_SIGNED:
        messages.info(request, "This version is not waiting for Allora's signature.")
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    return _sign_view(
        request,
        version,
        lambda evidence: lifecycle.countersign(version, user=request.user, evidence=evidence),
        done_url=reverse("agreements:agreement_detail", args=[agreement.pk]),
        party="Allora",
    )


def _sign_view(request, version, sign, *, done_url, party):
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
        {**doc, "form": form, "party": party, "cancel_url": done_url},
    )


@staff_required
def signed_pdf(request, pk):
    version = get_object_or_404(AgreementVersion.objects.select_related("agreement"), pk=pk)
    return _signed_pdf_response(version)


def _signed_pdf_response(version):
    if not version.signed_pdf:
        raise Http404("The signed PDF is not ready yet")
    with version.signed_pdf.open("rb") as handle:
        data = handle.read()
    return _pdf_response(
        data, f"{version.agreement.number}-v{version.number}-signed.pdf", attachment=True
    )


# Portal ---------------------------------------------------------------------------------


def _portal_agreement(request, pk):
    return get_object_or_404(
        Agreement.objects.for_user(request.user).select_related("customer"), pk=pk
    )


def _portal_version(agreement):
    """What the customer sees: the version awaiting them, else the one in force."""
    return (
        agreement.versions.exclude(status=AgreementVersion.Status.DRAFT)
        .select_related("terms_template", "signer")
        .order_by("-number")
        .first()
    )


@portal_required
def portal_agreement_list(request):
    agreements = (
        Agreement.objects.for_user(request.user)
        .exclude(status=Agreement.Status.DRAFT)
        .prefetch_related("terms")
        .order_by("-created_at")
    )
    return render(request, "portal/agreement_list.html", {"agreements": agreements})


@portal_required
def portal_agreement_detail(request, pk):
    agreement = _portal_agreement(request, pk)
    version = _portal_version(agreement)
    if version is None:
        raise Http404("This agreement has not been sent yet")
    today = local_today()
    return render(
        request,
        "portal/agreement_detail.html",
        {
            **document_context(version, today=today),
            "agreement": agreement,
            "version": version,
            "term": agreement.current_term(today=today)
            or agreement.terms.order_by("number").first(),
            "can_sign": _can_sign(request.user, version),
            "signed_versions": agreement.versions.filter(
                status__in=[AgreementVersion.Status.SIGNED, AgreementVersion.Status.SUPERSEDED]
            ).order_by("-number"),
        },
    )


def _can_sign(user, version):
    return (
        version.status == AgreementVersion.Status.SENT
        and Contact.objects.filter(
            user=user, customer_id=version.agreement.customer_id, is_authorized_signer=True
        ).exists()
    )


@portal_required
def portal_agreement_sign(request, pk):
    agreement = _portal_agreement(request, pk)
    version = _portal_version(agreement)
    if version is None:
        raise Http404("This agreement has not been sent yet")
    if not _can_sign(request.user, version):
        if version.status == AgreementVersion.Status.SENT:
            messages.error(
                request,
                f"Only an authorized signer of {agreement.customer} can sign this agreement.",
            )
        else:
            messages.info(request, "This agreement is not waiting for your signature.")
        return redirect("agreements:portal_agreement_detail", pk=agreement.pk)
    return _sign_view(
        request,
        version,
        lambda evidence: lifecycle.sign_as_customer(version, user=request.user, evidence=evidence),
        done_url=reverse("agreements:portal_agreement_detail", args=[agreement.pk]),
        party=agreement.customer.legal_name,
    )


@portal_required
def portal_signed_pdf(request, pk):
    version = get_object_or_404(
        AgreementVersion.objects.select_related("agreement").filter(
            agreement__customer_id=request.user.customer_id
        ),
        pk=pk,
    )
    return _signed_pdf_response(version)
