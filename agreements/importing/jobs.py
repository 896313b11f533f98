"""Imports run by the worker: an uploaded file is stored and recorded as an ``ImportJob``, the
Celery task ``agreements.tasks.run_import_job`` previews it (a dry run) and, once an admin
confirms, imports it for real; the import page shows the job's progress meanwhile. A small
file (``IMPORT_INLINE_MAX_BYTES``) runs at once in the request, as it always did: the page
needs no polling. The daily ``remove_stale_import_jobs`` drops previews nobody confirmed.

A job claims itself with a conditional UPDATE (queued -> running), so a task delivered twice
runs once. A failure is recorded on the job with its message; the import's transaction rolls
back, so nothing of the file is half-written.
"""

import datetime as dt
import logging
import secrets
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from ..models import ImportJob
from .importer import import_file
from .report import report_to_json

logger = logging.getLogger(__name__)

PENDING = "imports/pending/"
STALE_AFTER = dt.timedelta(days=1)
# No sign of life for this long: the worker running the job stopped (killed, restarted).
STUCK_AFTER = dt.timedelta(hours=6)
STUCK_MESSAGE = (
    "The worker stopped before finishing this file; nothing was imported. Upload it again."
)


def create_import_job(upload, *, by, dry_run=True) -> ImportJob:
    """Store an uploaded file (already within ``IMPORT_MAX_BYTES``) and record its job, queued."""
    suffix = Path(upload.name).suffix.lower()
    path = default_storage.save(f"{PENDING}{secrets.token_urlsafe(16)}{suffix}", upload)
    return ImportJob.objects.create(
        created_by=by,
        file_name=Path(upload.name).name[:255],
        file_path=path,
        size=upload.size,
        dry_run=dry_run,
    )


def runs_inline(size: int) -> bool:
    """A small file is checked and imported in the request itself; a big one by the worker."""
    return size <= settings.IMPORT_INLINE_MAX_BYTES


def confirm_import_job(job: ImportJob) -> bool:
    """Turn a clean preview into the import for real (queued again); False when the job is
    not a clean, finished preview any more (already confirmed, failed, removed)."""
    if (job.report or {}).get("errors") != []:
        return False
    claimed = ImportJob.objects.filter(
        pk=job.pk, dry_run=True, status=ImportJob.Status.DONE
    ).update(dry_run=False, status=ImportJob.Status.QUEUED, rows_done=0, updated_at=timezone.now())
    return claimed == 1


def run_import_job(job_id: int, *, today: dt.date) -> None:
    """Check (and, when confirmed, import) a queued job's file, recording its progress and its
    report; a job already taken or gone is left alone."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, rows_done=0, error="", updated_at=timezone.now()
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    jobs = ImportJob.objects.filter(pk=job_id)

    def progress(done, total):
        jobs.update(rows_done=done, rows_total=total, updated_at=timezone.now())

    try:
        # Read as the import goes (twice: customers, then agreements), never whole.
        report = import_file(
            lambda: default_storage.open(job.file_path, "rb"),
            name=job.file_name,
            size=default_storage.size(job.file_path),
            by=job.created_by,
            today=today,
            dry_run=job.dry_run,
            progress=progress,
        )
    except Exception as error:
        logger.exception("Import job %s failed", job_id)
        jobs.update(
            status=ImportJob.Status.FAILED, error=_failure(error), updated_at=timezone.now()
        )
        return
    jobs.update(
        status=ImportJob.Status.DONE, report=report_to_json(report), updated_at=timezone.now()
    )
    if not (job.dry_run and report.ok):
        # Imported, or refused: nothing will read the file again.
        default_storage.delete(job.file_path)


def _failure(error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return "The uploaded file is gone (previews are kept for a day); upload it again."
    return f"The import stopped with an error ({type(error).__name__}); nothing was imported."


def remove_stale_import_jobs(*, now: dt.datetime) -> int:
    """Daily: remove the previews nobody confirmed and the failed jobs, older than a day, with
    their files, and any file left in the pending folder that long; first, fail the jobs whose
    worker stopped (silent for STUCK_AFTER: the import's transaction rolled back, so nothing was
    written). Returns the jobs removed."""
    ImportJob.objects.filter(
        status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING],
        updated_at__lt=now - STUCK_AFTER,
    ).update(status=ImportJob.Status.FAILED, error=STUCK_MESSAGE, updated_at=now)
    cutoff = now - STALE_AFTER
    stale = ImportJob.objects.filter(created_at__lt=cutoff).filter(
        Q(dry_run=True) | Q(status=ImportJob.Status.FAILED)
    )
    removed = 0
    for job in stale.iterator():
        default_storage.delete(job.file_path)
        removed += ImportJob.objects.filter(pk=job.pk).delete()[0]
    waiting = set(ImportJob.objects.values_list("file_path", flat=True))
    try:
        _folders, files = default_storage.listdir(PENDING)
    except FileNotFoundError:
        return removed
    for name in files:
        path = f"{PENDING}{name}"
        if path not in waiting and default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
    return removed
