"""The admins' import page: upload a JSON or CSV file, see a preview (or the error of each bad
row, with its line), then confirm. The same import as ``manage.py import_agreements``.

A file over ``IMPORT_MAX_BYTES`` is refused before it is read; a big file is previewed and
imported by the worker (``importing.jobs``) while its page shows the progress, polled with
htmx; a small one runs at once."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from allora.tenancy import admin_required
from allora.timeutils import local_today

from . import tasks
from .forms import ImportForm
from .importing import jobs
from .importing.reading import MB, file_size, size_problem
from .importing.report import report_from_json
from .models import ImportJob

# What a multipart body may carry besides the file itself (boundaries, headers, the CSRF token).
FORM_OVERHEAD = MB


@admin_required
def import_upload(request):
    """Upload; the preview (a dry run) follows on the job's page."""
    if request.method == "POST" and (refused := _body_too_big(request)):
        return _upload_page(request, ImportForm(), refused=refused)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if refused := size_problem(upload.size):
            return _upload_page(request, ImportForm(), refused=refused)
        job = jobs.create_import_job(upload, by=request.user)
        _start(job)
        return redirect("agreement_import_job", pk=job.pk)
    return _upload_page(request, form)


def _upload_page(request, form, *, refused=None):
    """The upload form; ``refused``: why the file sent was refused for its size (a 413)."""
    context = {"form": form, "limit": file_size(settings.IMPORT_MAX_BYTES), "refused": refused}
    status = 413 if refused else 200
    return render(request, "agreements/import_upload.html", context, status=status)


def _body_too_big(request):
    """Refuse a body far over the limit by its announced length, before reading it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > settings.IMPORT_MAX_BYTES + FORM_OVERHEAD:
        return size_problem(length)
    return None


def _start(job):
    if jobs.runs_inline(job.size):
        jobs.run_import_job(job.pk, today=local_today())
    else:
        tasks.run_import_job.delay(job.pk)


@admin_required
def import_job(request, pk):
    """The job's page: its progress while it runs, then the preview (with the confirm button)
    or what was imported, or each bad row."""
    job = get_object_or_404(ImportJob, pk=pk)
    report = report_from_json(job.report) if job.status == ImportJob.Status.DONE else None
    return render(request, "agreements/import_preview.html", {"job": job, "report": report})


@admin_required
def import_progress(request, pk):
    """The progress fragment the job's page polls; once the job is finished, the page reloads."""
    job = get_object_or_404(ImportJob, pk=pk)
    if job.finished:
        if request.htmx:
            return HttpResponseClientRefresh()
        return redirect("agreement_import_job", pk=job.pk)
    return render(request, "agreements/_import_progress.html", {"job": job})


@admin_required
@require_POST
def import_confirm(request, pk):
    """Import the previewed file for real (all or nothing); once only."""
    job = get_object_or_404(ImportJob, pk=pk)
    if not jobs.confirm_import_job(job):
        messages.error(request, "That preview has expired or was already confirmed.")
        return redirect("agreement_import")
    job.refresh_from_db()
    _start(job)
    return redirect("agreement_import_job", pk=job.pk)
