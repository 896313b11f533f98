"""An admin imports a big file: the worker checks it while the page shows the progress (htmx
polling), the preview appears by itself, and the confirmed import follows the same way."""

import json

import pytest
from playwright.sync_api import expect

from agreements import tasks
from agreements.models import Agreement, ImportJob
from agreements.tests.import_samples import sample_document

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_big_import_shows_its_progress_then_the_preview_then_the_result(
    page, live_server, sign_in, admin, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_INLINE_MAX_BYTES = 0  # every file goes to the worker
    queued = []
    monkeypatch.setattr(tasks.run_import_job, "delay", queued.append)  # the worker runs below
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    source = tmp_path / "agreements.json"
    source.write_text(json.dumps(sample_document(2)))

    sign_in(admin)
    page.goto(f"{live_server.url}/agreements/import/")
    page.get_by_label("File to import").set_input_files(source)
    page.get_by_role("button", name="Preview the import").click()
    expect(page.get_by_role("heading", name="Checking: agreements.json")).to_be_visible()
    expect(page.get_by_text("Waiting for the worker")).to_be_visible()

    tasks.run_import_job(queued[-1])  # the worker, while the page polls
    expect(page.get_by_role("heading", name="Preview: agreements.json")).to_be_visible(
        timeout=10_000
    )
    expect(page.get_by_text("Sample Customer 2, LLC")).to_be_visible()
    assert not Agreement.objects.exists()

    page.get_by_role("button", name="Confirm the import").click()
    expect(page.get_by_role("heading", name="Importing: agreements.json")).to_be_visible()
    tasks.run_import_job(queued[-1])
    expect(page.get_by_role("heading", name="Imported: agreements.json")).to_be_visible(
        timeout=10_000
    )
    assert Agreement.objects.count() == 2
    assert ImportJob.objects.get().status == "done"
    assert problems == []
