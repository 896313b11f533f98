"""A task through a real Celery worker process on Redis (CI runs it; see allora/tests/services)."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery
from celery.result import allow_join_result

from allora.tests.services import redis_url

pytestmark = pytest.mark.celery_worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(monkeypatch):
    url = redis_url()
    # Celery lets these variables override the URLs given in code: point them at the test Redis.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", url)
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "allora.settings",
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
    }
    command = [sys.executable, "-m", "celery", "-A", "allora", "worker", "--pool", "solo"]
    process = subprocess.Popen(
        [*command, "-Q", queue, "--loglevel", "warning", "--without-heartbeat"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # A producer of its own, as another service would be: the project's app stays eager in tests.
    producer = Celery("producer", broker=url, backend=url)
    try:
        yield producer, queue
    finally:
        process.terminate()
        process.wait(timeout=20)
        producer.close()


def test_a_task_runs_in_a_real_worker_on_redis(worker):
    producer, queue = worker
    result = producer.send_task("allora.tasks.ping", queue=queue)
    # Celery's "inside a task" flag is process-wide: tests that run eager tasks in two threads
    # at once (the concurrency tests) can leave it set. This test waits as a client would.
    with allow_join_result():
        assert result.get(timeout=60) == "pong"
