"""The admins' import page: upload a JSON or CSV file, see a preview (or the error of each bad
row, with its line), then confirm. The same import as ``manage.py import_agreements``."""

import secrets
from pathlib import Path

from django.contrib import messages
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from allora.tenancy import admin_required
from allora.timeutils import local_today

from . import importing
from .forms import ImportForm

PENDING = "imports/pending/"
SESSION_KEY = "pending_imports"


@admin_required
def import_upload(request):
    """Upload, then a dry run shows what would be imported or what is wrong, row by row."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        data = upload.read()
        report = importing.import_bytes(
            data, name=upload.name, by=request.user, today=local_today(), dry_run=True
        )
        context = {"report": report, "file_name": upload.name}
        if report.ok:
            token = secrets.token_urlsafe(16)
            suffix = Path(upload.name).suffix.lower()
            default_storage.save(f"{PENDING}{token}{suffix}", ContentFile(data))
            pending = request.session.get(SESSION_KEY, {})
            pending[token] = {"name": upload.name, "path": f"{PENDING}{token}{suffix}"}
            request.session[SESSION_KEY] = pending
            context["token"] = token
        return render(request, "agreements/import_preview.html", context)
    return render(request, "agreements/import_upload.html", {"form": form})


@admin_required
@require_POST
def import_confirm(request, token):
    """Import the previewed file for real (all or nothing)."""
    pending = request.session.get(SESSION_KEY, {})
    entry = pending.pop(token, None)
    request.session[SESSION_KEY] = pending
    if entry is None or not default_storage.exists(entry["path"]):
        messages.error(request, "That preview has expired; upload the file again.")
        return redirect("agreement_import")
    with default_storage.open(entry["path"], "rb") as handle:
        data = handle.read()
    default_storage.delete(entry["path"])
    report = importing.import_bytes(data, name=entry["name"], by=request.user, today=local_today())
    return render(
        request,
        "agreements/import_preview.html",
        {"report": report, "file_name": entry["name"], "done": report.ok},
    )
