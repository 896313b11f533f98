"""The staff pages of receivables: the aging (page and CSV), a customer's statement (page and
PDF) and, for admins, the payment reminder settings. The customer's own statement is in
``portal/views/invoices.py``; both use ``statement_response`` here. The rules are in
``billing/receivables.py``."""

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agreements.models import Customer
from allora.spreadsheet import safe_row
from allora.tenancy import admin_required, staff_required
from allora.timeutils import local_today

from . import receivables
from .forms import AgingForm, ReminderStepForm, StatementForm
from .models import ReminderStep

AGING_PAGE_SIZE = 25


def _aging_report(request):
    today = local_today()
    form = AgingForm(request.GET or None, today=today)
    as_of = form.cleaned_data["as_of"] if form.is_valid() else today
    return form, receivables.aging(as_of=as_of)


@staff_required
def aging(request):
    form, report = _aging_report(request)
    page = Paginator(report.rows, AGING_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/aging.html",
        {"form": form, "report": report, "page": page, "buckets": receivables.BUCKETS},
    )


@staff_required
def aging_csv(request):
    form, report = _aging_report(request)
    if form.is_bound and not form.is_valid():
        return redirect_with_errors(request, form)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="aging-{report.as_of}.csv"'
    writer = csv.writer(response)
    writer.writerow(receivables.AGING_CSV_COLUMNS)
    writer.writerows(safe_row(row) for row in receivables.aging_csv_rows(report))
    return response


def redirect_with_errors(request, form):
    messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
    return redirect("billing:aging")


def statement_response(request, customer, *, template, pdf, pdf_url):
    """A customer's statement for the period in the query string (the last 90 days when none):
    the page with the form, or the PDF. A bad period shows the form with the message."""
    start, end = receivables.default_statement_range(today=local_today())
    form = StatementForm(request.GET or None, initial={"start": start, "end": end})
    if form.is_bound:
        if not form.is_valid():
            return render(request, template, {"customer": customer, "form": form})
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    report = receivables.statement(customer, start=start, end=end)
    if pdf:
        return HttpResponse(
            receivables.statement_pdf(report),
            content_type="application/pdf",
            headers={
                "Content-Disposition": (
                    f'inline; filename="{receivables.statement_filename(report)}"'
                )
            },
        )
    return render(
        request,
        template,
        {
            "customer": customer,
            "form": form,
            "statement": report,
            "pdf_url": pdf_url,
            "query": f"start={start}&end={end}",
        },
    )


def _customer_statement(request, pk, *, pdf):
    customer = get_object_or_404(Customer, pk=pk)
    return statement_response(
        request,
        customer,
        template="billing/statement.html",
        pdf=pdf,
        pdf_url=reverse("billing:customer_statement_pdf", args=[customer.pk]),
    )


@staff_required
def customer_statement(request, pk):
    return _customer_statement(request, pk, pdf=False)


@staff_required
def customer_statement_pdf(request, pk):
    return _customer_statement(request, pk, pdf=True)


# Payment reminder settings (admins) ------------------------------------------------------------


@admin_required
def reminder_steps(request):
    form = ReminderStepForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        step = form.save()
        messages.success(request, f"Reminder added: {step}.")
        return redirect("billing:reminder_steps")
    return render(
        request,
        "billing/reminder_steps.html",
        {
            "steps": ReminderStep.objects.all(),
            "form": form,
            "catch_up_days": receivables.REMINDER_CATCH_UP_DAYS,
        },
    )


@admin_required
@require_POST
def reminder_step_toggle(request, pk):
    step = get_object_or_404(ReminderStep, pk=pk)
    step.active = not step.active
    step.save(update_fields=["active"])
    messages.success(request, f"{step}: {'on' if step.active else 'off'}.")
    return redirect("billing:reminder_steps")


@admin_required
def reminder_step_delete(request, pk):
    step = get_object_or_404(ReminderStep, pk=pk)
    if request.method == "POST":
        step.delete()
        messages.success(request, f"Reminder removed: {step}.")
        return redirect("billing:reminder_steps")
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Remove the reminder “{step}”?",
            "body": "No more reminders go out on this day. Reminders already sent stay on "
            "each invoice's timeline. To stop it for a while, turn it off instead.",
            "confirm_label": "Remove the reminder",
            "cancel_url": reverse("billing:reminder_steps"),
        },
    )
