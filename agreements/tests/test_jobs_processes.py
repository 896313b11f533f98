"""The daily jobs under real conditions: two processes at once on PostgreSQL, and Celery beat
with a worker on Redis running the renewal for a frozen date (CI runs both)."""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import transaction

from agreements.models import Agreement, Reminder, Term
from agreements.tests.factories import agreement_for_2027
from allora.tests.services import redis_url, shared_database_url
from billing.tests.factories import published_card

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TERM_END = dt.date(2028, 1, 1)


@pytest.fixture
def agreements(customer_a, alice, admin):
    published_card(effective_date=dt.date(2026, 1, 1))
    return [
        agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin) for _ in range(4)
    ]


def _env(**extra):
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "allora.settings", **extra}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def test_two_processes_renewing_at_once_renew_nothing_twice(agreements):
    env = _env(DATABASE_URL=shared_database_url())
    command = [sys.executable, "manage.py", "renew_agreements", "--today", TERM_END.isoformat()]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    for agreement in agreements:
        assert list(agreement.terms.values_list("number", flat=True)) == [1, 2]
    assert Reminder.objects.filter(kind="renewed").count() == len(agreements)


def test_an_agreement_another_worker_holds_is_left_to_it_and_the_rest_of_its_chunk_renews(
    agreements,
):
    env = _env(DATABASE_URL=shared_database_url())
    command = [sys.executable, "manage.py", "renew_agreements", "--today", TERM_END.isoformat()]
    held = agreements[1]
    with transaction.atomic():  # this process is the other worker, holding one agreement
        Agreement.objects.select_for_update().get(pk=held.pk)
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=120)
        assert run.returncode == 0, run.stderr.decode()[-2000:]
    renewed = set(Term.objects.filter(number=2).values_list("agreement_id", flat=True))
    assert renewed == {agreement.pk for agreement in agreements} - {held.pk}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    for agreement in agreements:
        assert list(agreement.terms.values_list("number", flat=True)) == [1, 2]
    assert Reminder.objects.filter(kind="renewed").count() == len(agreements)


def test_beat_and_a_worker_on_redis_run_the_renewal_for_a_frozen_date(agreements):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    url = redis_url()
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    PeriodicTask.objects.create(
        name="renew for the frozen date",
        task="agreements.tasks.renew_agreements",
        interval=every_second,
        kwargs=f'{{"today": "{TERM_END.isoformat()}"}}',
    )
    # Only the test's entry should run: the project's daily entries stay as they are.
    env = _env(
        DATABASE_URL=shared_database_url(),
        CELERY_BROKER_URL=url,
        CELERY_RESULT_BACKEND=url,
    )
    queue = f"test-beat-{os.getpid()}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "allora",
            "worker",
            "--beat",
            "--scheduler",
            "django",
            "--pool",
            "solo",
            "-Q",
            f"celery,{queue}",
            "--loglevel",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and Term.objects.filter(number=2).count() < len(
            agreements
        ):
            time.sleep(1)
        time.sleep(3)  # let beat fire a few more times: nothing may be renewed twice
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=30)
    assert Term.objects.filter(number=2).count() == len(agreements), errors.decode()[-2000:]
    assert not Term.objects.filter(number=3).exists()
    for agreement in Agreement.objects.all():
        assert agreement.terms.get(number=2).start == TERM_END
