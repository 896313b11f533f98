"""The staff pages of rate cards, invoices (list, detail, PDF, payments, void, export), time
entries and early termination. The customer's invoices are in ``portal/views/invoices.py``; what
both use is in ``billing/pages.py``."""

import csv

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from agreements import lifecycle
from agreements.pages import customer_filter, get_agreement_for_user
from allora.history import timeline
from allora.pagination import CappedPaginator
from allora.sorting import Sorting
from allora.spreadsheet import queryset_download, safe_row
from allora.tenancy import admin_required, staff_required
from allora.timeutils import local_today
from allora.validation import query_id
from scheduling.models import Visit

from . import bookkeeping, closing
from .credits import (
    apply_customer_credit,
    credit_balance,
    creditable,
    issue_credit_note,
    line_remaining,
)
from .documents import (
    EXPORT_COLUMNS,
    credit_note_context,
    credit_note_export_rows,
    export_rows,
    invoice_context,
    resend_invoice,
)
from .forms import (
    AccountingExportForm,
    CreditNoteForm,
    ExportForm,
    InvoiceFilterForm,
    ItemFormSet,
    OneOffInvoiceForm,
    PaymentForm,
    PublishForm,
    RateCardForm,
    RateCardLineFormSet,
    TimeAgreementForm,
    TimeEntryForm,
    VoidForm,
)
from .models import DiscountPolicy, Invoice, RateCard, RateCardLine, TimeEntry
from .oneoff import issue_one_off_invoice
from .pages import (
    credit_note_pdf_response,
    get_credit_note_for_user,
    get_invoice_for_user,
    invoice_pdf_response,
    invoice_rows,
    invoice_timeline,
)
from .timesheets import (
    billing_state,
    default_work_date,
    describe,
    log_form_time,
    loggable_lines,
)

DRAFT_EXISTS = "A draft rate card already exists: edit or publish it first."


@staff_required
def ratecard_list(request):
    today = local_today()
    return render(
        request,
        "billing/ratecard_list.html",
        {
            "cards": RateCard.objects.select_related("published_by"),
            "current": RateCard.objects.current(on=today),
            "discounts": DiscountPolicy.objects.all(),
        },
    )


@admin_required
def ratecard_create(request):
    form = RateCardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        card = form.save(commit=False)
        card.created_by = request.user
        card.version = RateCard.next_version()
        try:
            with transaction.atomic():
                card.save()
        except IntegrityError:
            form.add_error(None, DRAFT_EXISTS)
        else:
            messages.success(request, f"Draft {card} created. Add its rates.")
            return redirect("billing:ratecard_edit", pk=card.pk)
    return render(request, "billing/ratecard_form.html", {"form": form})


@staff_required
def ratecard_detail(request, pk):
    card = get_object_or_404(RateCard.objects.select_related("published_by", "created_by"), pk=pk)
    history = timeline(
        (card.history.all(), lambda record: "Card"),
        (
            RateCardLine.history.filter(card_id=card.pk),
            lambda record: f"Rate {record.name}",
        ),
    )
    return render(
        request,
        "billing/ratecard_detail.html",
        {
            "card": card,
            "lines": card.lines.all(),
            "history": history,
            "publish_form": PublishForm(initial={"effective_date": local_today()}),
        },
    )


@admin_required
def ratecard_edit(request, pk):
    card = get_object_or_404(RateCard, pk=pk)
    if not card.is_draft:
        messages.error(request, "A published rate card cannot be changed; start a new version.")
        return redirect("billing:ratecard_detail", pk=card.pk)
    form = RateCardForm(request.POST or None, instance=card)
    formset = RateCardLineFormSet(request.POST or None, instance=card)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        with transaction.atomic():
            form.save()
            formset.save()
        messages.success(request, "Rates saved.")
        return redirect("billing:ratecard_detail", pk=card.pk)
    return render(
        request, "billing/ratecard_edit.html", {"card": card, "form": form, "formset": formset}
    )


@admin_required
def ratecard_publish(request, pk):
    card = get_object_or_404(RateCard, pk=pk)
    form = PublishForm(request.POST or None, initial={"effective_date": local_today()})
    if request.method == "POST" and form.is_valid():
        try:
            card.publish(
                by=request.user,
                effective_date=form.cleaned_data["effective_date"],
                today=local_today(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"{card} published, in effect from {card.effective_date:%B %-d, %Y}."
            )
            return redirect("billing:ratecard_detail", pk=card.pk)
    return render(request, "billing/ratecard_publish.html", {"card": card, "form": form})


@admin_required
@require_POST
def ratecard_new_version(request, pk):
    card = get_object_or_404(RateCard, pk=pk)
    try:
        draft = card.start_new_version(by=request.user)
    except (ValidationError, IntegrityError):
        messages.error(request, DRAFT_EXISTS)
        return redirect("billing:ratecard_detail", pk=card.pk)
    messages.success(request, f"Draft {draft} created from {card}.")
    return redirect("billing:ratecard_edit", pk=draft.pk)


# Invoices (staff) --------------------------------------------------------------------------


# Issued (the default, newest first) walks the (issued_on, number) index; number is unique.
INVOICE_SORTING = Sorting(
    {
        "number": ("number",),
        "customer": ("customer__legal_name", "-issued_on"),
        "issued": ("issued_on", "number"),
        "due": ("due_on", "number"),
        "total": ("total", "number"),
        "status": ("status", "-issued_on"),
    },
    default="-issued",
)
INVOICE_COLUMNS = (
    "Invoice", "Customer", "Agreement", "For", "Date", "Due", "Total", "Paid", "Credited",
    "Balance", "Status",
)  # fmt: skip


def _invoice_row(invoice):
    agreement = invoice.agreement.number if invoice.agreement else ""
    dates = (invoice.period_label, invoice.issued_on, invoice.due_on)
    amounts = (invoice.total, invoice.amount_paid, invoice.amount_credited, invoice.balance)
    status = invoice.get_status_display()
    return (invoice.number, invoice.customer, agreement, *dates, *amounts, status)


# Invoices grow every month (120,000 a year at 10,000 agreements): the list counts no further
# than its cap, "Page 1 of 40+", and its filters (customer, status, number, dates) narrow it.
INVOICE_PAGE = 25
INVOICE_CAP = 40 * INVOICE_PAGE

# What the list and its export show of an invoice and its customer, agreement and project: the
# other columns (the bill-to address, the covered dates…) stay unread (issue 14).
INVOICE_LIST_FIELDS = (
    "number", "kind", "period", "issued_on", "due_on", "total", "amount_paid",
    "amount_credited", "status", "customer__legal_name", "agreement__number", "project__title",
)  # fmt: skip


@staff_required
def invoice_list(request, export=False):
    """The invoices, filtered and sorted; ``export``: the same list as a CSV download."""
    form = InvoiceFilterForm(request.GET or None)
    customer = customer_filter(request)
    invoices = form.filter(
        Invoice.objects.select_related("customer", "agreement", "project").only(
            *INVOICE_LIST_FIELDS
        )
    )
    sort = INVOICE_SORTING.parse(request.GET)
    invoices = sort.apply(customer.apply(invoices))
    if export and form.is_bound and not form.is_valid():
        # Not every invoice instead of the ones asked for: the list says what to correct.
        messages.error(request, "Correct the filters before exporting.")
        return redirect(f"{reverse('billing:invoice_list')}?{request.GET.urlencode()}")
    if export:
        return queryset_download("invoices.csv", INVOICE_COLUMNS, invoices, _invoice_row)
    page = CappedPaginator(invoices, INVOICE_PAGE, cap=INVOICE_CAP).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "billing/invoice_list.html",
        {
            "form": form,
            "page": page,
            "rows": invoice_rows(page),
            "customer": customer,
            "sort": sort,
        },
    )


@staff_required
def invoice_detail(request, pk):
    invoice = get_invoice_for_user(request, pk)
    payments = list(invoice.payments.select_related("recorded_by"))
    credit_notes = list(invoice.credit_notes.select_related("created_by"))
    return render(
        request,
        "billing/invoice_detail.html",
        {
            **invoice_context(invoice),
            "payments": payments,
            "credit_notes": credit_notes,
            "timeline": invoice_timeline(invoice, payments=payments, credit_notes=credit_notes),
            "customer_credit": credit_balance(invoice.customer),
            "entries": invoice.time_entries.select_related("technician", "line", "visit"),
        },
    )


@staff_required
def invoice_pdf_view(request, pk):
    return invoice_pdf_response(get_invoice_for_user(request, pk), download=False)


@staff_required
def payment_create(request, pk):
    invoice = get_invoice_for_user(request, pk)
    form = PaymentForm(
        request.POST or None, initial={"amount": invoice.balance, "received_on": local_today()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            payment = invoice.record_payment(
                **form.cleaned_data, by=request.user, today=local_today()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            held = (
                f" ${payment.to_credit:,.2f} beyond the balance is held as the customer's "
                "credit, for their next invoice."
                if payment.to_credit
                else ""
            )
            messages.success(
                request,
                f"Payment of ${form.cleaned_data['amount']:,.2f} recorded on {invoice.number}: "
                f"{invoice.get_status_display().lower()}, balance ${invoice.balance:,.2f}.{held}",
            )
            return redirect("billing:invoice_detail", pk=invoice.pk)
    return render(request, "billing/payment_form.html", {"invoice": invoice, "form": form})


@admin_required
def invoice_void(request, pk):
    invoice = get_invoice_for_user(request, pk)
    form = VoidForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invoice.void(by=request.user, reason=form.cleaned_data["reason"], now=timezone.now())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            again = " The next run of the invoicing job issues its month again with a new number."
            monthly = invoice.kind == Invoice.Kind.MONTHLY
            messages.success(request, f"{invoice.number} is void." + (again if monthly else ""))
            return redirect("billing:invoice_detail", pk=invoice.pk)
    return render(request, "billing/invoice_void.html", {"invoice": invoice, "form": form})


@staff_required
def invoice_export(request):
    form = ExportForm(request.GET or None)
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="invoices-{start}-{end}.csv"'
        writer = csv.writer(response)
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(safe_row(row) for row in export_rows(start=start, end=end))
        writer.writerows(safe_row(row) for row in credit_note_export_rows(start=start, end=end))
        return response
    return render(request, "billing/invoice_export.html", {"form": form})


@staff_required
def accounting_export(request):
    """The invoices, credit notes or payments of a date range as QuickBooks Online or Xero
    import them, streamed (``billing.bookkeeping``)."""
    form = AccountingExportForm(request.GET or None)
    if form.is_valid():
        data = form.cleaned_data
        fmt, kind, start, end = data["format"], data["kind"], data["start"], data["end"]
        rows = bookkeeping.export_rows(fmt, kind, start=start, end=end)
        response = StreamingHttpResponse(
            bookkeeping.csv_lines(rows), content_type="text/csv; charset=utf-8"
        )
        name = bookkeeping.filename(fmt, kind, start=start, end=end)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return render(request, "billing/accounting_export.html", {"form": form})


# One-off invoices, credit notes, customer credit, resending (staff) -------------------------


@staff_required
def one_off_create(request):
    today = local_today()
    form = OneOffInvoiceForm(
        request.POST or None,
        initial={"issued_on": today, "customer": request.GET.get("customer")},
    )
    items = ItemFormSet(request.POST or None, prefix="items")
    if request.method == "POST" and form.is_valid() and items.is_valid():
        data = form.cleaned_data
        try:
            invoice = issue_one_off_invoice(
                data["customer"],
                agreement=data["agreement"],
                lines=[item.item() for item in items if item.has_changed()],
                issued_on=data["issued_on"],
                terms_days=data["terms_days"],
                by=request.user,
                today=today,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"Invoice {invoice.number} issued to {invoice.customer}: "
                f"${invoice.total:,.2f}, balance ${invoice.balance:,.2f}. It is emailed to the "
                "billing contacts.",
            )
            return redirect("billing:invoice_detail", pk=invoice.pk)
    return render(request, "billing/one_off_form.html", {"form": form, "items": items})


@admin_required
def credit_note_create(request, pk):
    invoice = get_invoice_for_user(request, pk)
    lines = list(invoice.lines.all())
    remaining = line_remaining(invoice)
    left = creditable(invoice)
    form = CreditNoteForm(request.POST or None, lines=lines, remaining=remaining)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        whole = data["scope"] == CreditNoteForm.WHOLE
        try:
            note = issue_credit_note(
                invoice,
                reason=data["reason"],
                by=request.user,
                today=local_today(),
                **({"amount": left} if whole else {"lines": data["lines"]}),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            held = (
                f" ${note.to_customer_credit:,.2f} is held as the customer's credit."
                if note.to_customer_credit
                else ""
            )
            messages.success(
                request,
                f"Credit note {note.number} issued: ${note.total:,.2f} off {invoice.number}, "
                f"balance ${invoice.balance:,.2f}.{held}",
            )
            return redirect("billing:credit_note_detail", pk=note.pk)
    return render(
        request,
        "billing/credit_note_form.html",
        {"invoice": invoice, "form": form, "creditable": left},
    )


@staff_required
def credit_note_detail(request, pk):
    note = get_credit_note_for_user(request, pk)
    return render(
        request, "billing/credit_note_detail.html", {**credit_note_context(note), "note": note}
    )


@staff_required
def credit_note_pdf_view(request, pk):
    return credit_note_pdf_response(get_credit_note_for_user(request, pk), download=False)


@staff_required
@require_POST
def invoice_apply_credit(request, pk):
    invoice = get_invoice_for_user(request, pk)
    payments = apply_customer_credit([invoice], today=local_today(), by=request.user)
    if payments:
        invoice.refresh_from_db()
        messages.success(
            request,
            f"${payments[0].amount:,.2f} of the customer's credit applied to {invoice.number}: "
            f"balance ${invoice.balance:,.2f}.",
        )
    else:
        messages.error(
            request,
            "No credit was applied: the invoice is not open or the customer holds no credit.",
        )
    return redirect("billing:invoice_detail", pk=invoice.pk)


@staff_required
@require_POST
def invoice_resend(request, pk):
    invoice = get_invoice_for_user(request, pk)
    try:
        resend_invoice(invoice, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"{invoice.number} is being emailed again to {invoice.customer}'s billing contacts.",
        )
    return redirect("billing:invoice_detail", pk=invoice.pk)


# Time entries (staff) ----------------------------------------------------------------------


TIME_SORTING = Sorting({"date": ("work_date",), "hours": ("hours", "-work_date")}, default="-date")
TIME_COLUMNS = (
    "Date", "Customer", "Agreement", "Worked on", "Hours", "After hours", "Technician", "Note",
    "Billed on",
)  # fmt: skip


def _time_row(entry):
    agreement = entry.agreement.number if entry.agreement else ""
    work = (entry.for_label, entry.hours, "yes" if entry.after_hours else "")
    return (entry.work_date, entry.customer, agreement, *work, entry.technician, entry.note,
            billing_state(entry))  # fmt: skip


@staff_required
def time_entry_list(request, export=False):
    """The time entries, sorted; ``export``: the same list as a CSV download."""
    sort = TIME_SORTING.parse(request.GET)
    entries = TimeEntry.objects.select_related(
        "agreement__customer",
        "line",
        "visit",
        "technician",
        "invoice",
        "project__customer",
        "emergency_request__customer",
    )
    entries = sort.apply(entries)
    if export:
        return queryset_download("time.csv", TIME_COLUMNS, entries, _time_row)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "billing/time_entry_list.html", {"page": page, "sort": sort})


def _time_entry_agreement(request):
    """The agreement the time is for: from ?visit= or ?agreement= (None: ask for it)."""
    source = request.POST or request.GET
    visit = query_id(source.get("visit"))
    if visit:
        found = Visit.objects.filter(pk=visit).select_related("agreement").first()
        return found.agreement if found else None
    form = TimeAgreementForm(source)
    return form.cleaned_data["agreement"] if form.is_valid() else None


@staff_required
def time_entry_create(request):
    agreement = _time_entry_agreement(request)
    if agreement is None:
        picker = TimeAgreementForm(request.GET if "agreement" in request.GET else None)
        return render(request, "billing/time_entry_agreement.html", {"form": picker})
    today = local_today()
    visits = list(
        Visit.objects.filter(agreement=agreement, starts_at__lt=timezone.now())
        .select_related("line", "agreement")
        .order_by("-starts_at")[:30]
    )
    chosen = query_id(request.GET.get("visit"))
    visit = (
        Visit.objects.filter(pk=chosen, agreement=agreement).select_related("line", "agreement")
        if chosen
        else Visit.objects.none()
    ).first()
    initial = {"work_date": today, "technician": request.user.pk}
    if visit is not None:
        visits = [visit, *[v for v in visits if v.pk != visit.pk]]
        initial.update(work=f"visit:{visit.pk}", work_date=default_work_date(visit, today=today))
    form = TimeEntryForm(
        request.POST or None,
        initial=initial,
        agreement=agreement,
        visits=visits,
        lines=loggable_lines(agreement),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = log_form_time(agreement, data, by=request.user, today=today)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"{entry.hours:g} h logged for {agreement.customer} on "
                f"{entry.work_date:%B %-d, %Y} ({describe(entry)}).",
            )
            return redirect("billing:time_entry_list")
    return render(request, "billing/time_entry_form.html", {"form": form, "agreement": agreement})


# Early termination (staff) -----------------------------------------------------------------


@staff_required
def early_termination(request, pk):
    agreement = get_agreement_for_user(request.user, pk)
    today = local_today()
    try:
        plan = closing.final_invoice_preview(agreement, today=today)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    if request.method == "POST":
        if request.POST.get("expected_total") != str(plan.total):
            messages.error(
                request, "The amount changed since this page was opened; review it again."
            )
            return redirect("billing:early_termination", pk=agreement.pk)
        try:
            invoice = lifecycle.terminate_early(agreement, by=request.user, today=today)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("agreements:agreement_detail", pk=agreement.pk)
        messages.success(
            request,
            f"{agreement.number} is terminated."
            + (f" Final invoice {invoice.number}: ${invoice.total:,.2f}." if invoice else ""),
        )
        if invoice:
            return redirect("billing:invoice_detail", pk=invoice.pk)
        return redirect("agreements:agreement_detail", pk=agreement.pk)
    return render(
        request,
        "billing/early_termination.html",
        {
            "agreement": agreement,
            "plan": plan,
            "commitment": closing.commitment(agreement, today=today),
            "future_visits": Visit.objects.open()
            .filter(agreement=agreement, starts_at__gte=timezone.now())
            .count(),
            "today": today,
        },
    )
