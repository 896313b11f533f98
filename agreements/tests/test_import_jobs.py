"""Big imports run by the worker with their progress on the page, the size limit (upload page,
API, command), and the daily removal of previews nobody confirmed (issue 12)."""

import datetime as dt
import io
import json
import os

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from agreements import tasks
from agreements.importing.importer import _Importer
from agreements.models import Agreement, Customer, ImportJob
from agreements.tests.import_samples import sample_document
from allora.tests.api_support import bearer

TODAY = dt.date(2026, 11, 28)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def worker_later(monkeypatch):
    """Queue the worker's task without running it, as a real broker would; returns the ids."""
    queued = []
    monkeypatch.setattr(tasks.run_import_job, "delay", queued.append)
    return queued


@pytest.fixture
def big_files(settings):
    """Every file counts as big: previewed and imported by the worker."""
    settings.IMPORT_INLINE_MAX_BYTES = 0


def upload(document, name="agreements.json"):
    return SimpleUploadedFile(name, json.dumps(document).encode(), "application/json")


# The worker and the progress page -----------------------------------------------------------


def test_a_big_file_is_previewed_by_the_worker_while_the_page_shows_its_progress(
    client_for, admin, big_files, worker_later
):
    client = client_for(admin)
    response = client.post(reverse("agreement_import"), {"file": upload(sample_document(3))})
    job = ImportJob.objects.get()
    assert response.url == reverse("agreement_import_job", args=[job.pk])
    assert worker_later == [job.pk]  # the request parsed nothing
    assert (job.status, job.dry_run, job.rows_total) == ("queued", True, 0)
    page = client.get(response.url).content.decode()
    assert "Checking: agreements.json" in page
    progress_url = reverse("agreement_import_progress", args=[job.pk])
    assert f'hx-get="{progress_url}"' in page and 'hx-trigger="every 2s"' in page
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<script" not in main and "style=" not in main  # the strict CSP allows neither
    # Halfway through, as the worker records it:
    ImportJob.objects.filter(pk=job.pk).update(status="running", rows_done=3, rows_total=6)
    fragment = client.get(progress_url, headers={"HX-Request": "true"}).content.decode()
    assert "Checking records: 3 of 6" in fragment
    assert '<progress class="w-100" value="3" max="6"' in fragment
    assert 'hx-trigger="every 2s"' in fragment  # and it keeps polling
    ImportJob.objects.filter(pk=job.pk).update(status="queued", rows_done=0, rows_total=0)

    tasks.run_import_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_total) == ("done", 6, 6)
    finished = client.get(progress_url, headers={"HX-Request": "true"})
    assert finished.headers["HX-Refresh"] == "true"  # the page reloads with the preview
    page = client.get(reverse("agreement_import_job", args=[job.pk])).content.decode()
    assert "Preview: agreements.json" in page and "Confirm the import" in page
    assert not Customer.objects.exists()

    confirmed = client.post(reverse("agreement_import_confirm", args=[job.pk]))
    assert confirmed.url == reverse("agreement_import_job", args=[job.pk])
    assert worker_later == [job.pk, job.pk]
    assert "Importing: agreements.json" in client.get(confirmed.url).content.decode()
    tasks.run_import_job(job.pk)
    page = client.get(confirmed.url).content.decode()
    assert "Imported: agreements.json" in page
    assert Agreement.objects.count() == 3
    assert not default_storage.exists(ImportJob.objects.get().file_path)  # done with it


def test_a_job_the_worker_delivers_twice_runs_once(admin, big_files, worker_later, client_for):
    client_for(admin).post(reverse("agreement_import"), {"file": upload(sample_document())})
    job = ImportJob.objects.get()
    tasks.run_import_job(job.pk)
    tasks.run_import_job(job.pk)  # a second delivery: already done
    job.refresh_from_db()
    assert job.status == "done" and job.report["agreements_created"] == 1


def test_a_failed_import_shows_its_error_and_writes_nothing(
    client_for, admin, big_files, worker_later, monkeypatch
):
    client = client_for(admin)
    client.post(reverse("agreement_import"), {"file": upload(sample_document(2))})
    job = ImportJob.objects.get()
    tasks.run_import_job(job.pk)
    client.post(reverse("agreement_import_confirm", args=[job.pk]))

    def broken(self, items):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_Importer, "_write_terms", broken)  # after customers and agreements
    tasks.run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    page = client.get(reverse("agreement_import_job", args=[job.pk])).content.decode()
    assert "Import failed: agreements.json" in page
    assert "The import stopped with an error (RuntimeError); nothing was imported." in page
    assert not Customer.objects.exists() and not Agreement.objects.exists()  # rolled back
    assert "Confirm the import" not in page


def test_a_small_file_is_previewed_at_once(client_for, admin, worker_later):
    response = client_for(admin).post(
        reverse("agreement_import"), {"file": upload(sample_document())}, follow=True
    )
    assert "Preview: agreements.json" in response.content.decode()
    assert worker_later == []


# The size limit ---------------------------------------------------------------------------


def test_an_upload_over_the_limit_is_refused_before_it_is_read(client_for, admin, settings):
    settings.IMPORT_MAX_BYTES = 20 * 1024 * 1024
    data = b" " * (int(52.4 * 1024 * 1024) - 1024)  # with the form around it: 52.4 MB
    response = client_for(admin).post(
        reverse("agreement_import"), {"file": SimpleUploadedFile("big.json", data)}
    )
    assert response.status_code == 413
    assert "The file is 52.4 MB; the limit is 20 MB." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_upload_just_over_the_limit_is_refused_by_its_size(client_for, admin, settings):
    settings.IMPORT_MAX_BYTES = 1024
    data = b" " * (2 * 1024 + 1)
    response = client_for(admin).post(
        reverse("agreement_import"), {"file": SimpleUploadedFile("a.json", data)}
    )
    assert response.status_code == 413
    assert "The file is 2.1 KB; the limit is 1 KB." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_api_refuses_a_file_over_the_limit_with_413(admin, settings):
    settings.IMPORT_MAX_BYTES = 2 * 1024 * 1024
    data = b" " * (3 * 1024 * 1024)
    response = Client().post(
        "/api/v1/imports", {"file": SimpleUploadedFile("big.json", data)}, headers=bearer(admin)
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "The file is 3 MB; the limit is 2 MB."}


def test_the_command_refuses_a_file_over_the_limit(admin, settings, tmp_path):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    source = tmp_path / "big.json"
    source.write_bytes(b" " * (1024 * 1024 + 1))
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_agreements", str(source), stderr=err)
    assert "The file is 1.1 MB; the limit is 1 MB." in err.getvalue()


def test_a_big_file_through_the_api_is_a_job_to_follow(admin, big_files, worker_later):
    response = Client().post(
        "/api/v1/imports", {"file": upload(sample_document(2))}, headers=bearer(admin)
    )
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["status"], job["dry_run"], job["report"]) == ("queued", False, None)
    tasks.run_import_job(job["id"])
    followed = Client().get(f"/api/v1/imports/{job['id']}", headers=bearer(admin)).json()
    assert followed["status"] == "done" and followed["rows_done"] == 4
    assert followed["report"]["agreements_created"] == 2
    assert Agreement.objects.count() == 2


# Previews nobody confirmed are removed after a day --------------------------------------------


def test_the_daily_job_removes_unconfirmed_previews_older_than_a_day(
    client_for, admin, big_files, worker_later
):
    client = client_for(admin)
    with time_machine.travel(dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC), tick=False):
        client.post(reverse("agreement_import"), {"file": upload(sample_document(), "old.json")})
        old = ImportJob.objects.get()
        tasks.run_import_job(old.pk)
        left_over = default_storage.save("imports/pending/left-over.json", io.BytesIO(b"{}"))
        yesterday = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC).timestamp()
        os.utime(default_storage.path(left_over), (yesterday, yesterday))
    with time_machine.travel(dt.datetime(2026, 11, 28, 8, tzinfo=dt.UTC), tick=False):
        client.post(reverse("agreement_import"), {"file": upload(sample_document(), "new.json")})
        new = ImportJob.objects.get(file_name="new.json")
        tasks.run_import_job(new.pk)
    with time_machine.travel(dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC), tick=False):
        assert default_storage.exists(old.file_path)
        assert tasks.remove_stale_import_jobs() == 1
    assert list(ImportJob.objects.values_list("file_name", flat=True)) == ["new.json"]
    assert not default_storage.exists(old.file_path)
    assert not default_storage.exists(left_over)
    assert default_storage.exists(new.file_path)
    response = client.post(reverse("agreement_import_confirm", args=[old.pk]))
    assert response.status_code == 404


def test_a_confirmed_import_whose_worker_died_is_failed_by_the_daily_job_not_left_polling(
    client_for, admin, big_files, worker_later
):
    client = client_for(admin)
    started = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)
    with time_machine.travel(started, tick=False):
        client.post(reverse("agreement_import"), {"file": upload(sample_document(2))})
        job = ImportJob.objects.get()
        tasks.run_import_job(job.pk)
        client.post(reverse("agreement_import_confirm", args=[job.pk]))
        # The worker claims the import, then is killed (its transaction rolls back).
        ImportJob.objects.filter(pk=job.pk).update(status="running", updated_at=started)
    with time_machine.travel(started + dt.timedelta(hours=5), tick=False):
        assert tasks.remove_stale_import_jobs() == 0
        assert ImportJob.objects.get().status == "running"  # still within its hours
    with time_machine.travel(started + dt.timedelta(hours=7), tick=False):
        assert tasks.remove_stale_import_jobs() == 0  # failed, kept: it was a real import
    job.refresh_from_db()
    assert job.status == "failed"
    progress = client.get(
        reverse("agreement_import_progress", args=[job.pk]), headers={"HX-Request": "true"}
    )
    assert progress.headers["HX-Refresh"] == "true"  # the page stops polling
    page = client.get(reverse("agreement_import_job", args=[job.pk])).content.decode()
    assert "The worker stopped before finishing this file; nothing was imported." in page
    assert not Agreement.objects.exists()


def test_the_removal_of_stale_previews_is_in_the_beat_schedule():
    from allora.celery import app

    entries = {e["task"]: e for e in app.conf.beat_schedule.values()}
    assert "agreements.tasks.remove_stale_import_jobs" in entries


def test_a_huge_form_body_is_a_400_not_a_500(client_for, admin, staff):
    """Form fields (not files) above DATA_UPLOAD_MAX_MEMORY_SIZE are refused cleanly."""
    response = client_for(admin).post(
        reverse("agreement_import"), {"note": "x" * (3 * 1024 * 1024)}
    )
    assert response.status_code == 400
    body = json.dumps({"legal_name": "x" * (3 * 1024 * 1024)})
    api = Client().post(
        "/api/v1/customers", body, content_type="application/json", headers=bearer(staff)
    )
    assert api.status_code in (400, 413), api.status_code
