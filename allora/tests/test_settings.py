"""Settings come from the environment, strictly: production passes `check --deploy` cleanly,
and bad or missing values stop the start with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-" + "x7Gq2LmP9vR4tW8zB1nC5dF3hJ6kM0sY",
    "ALLOWED_HOSTS": "agreements.allora.example",
    "DATABASE_URL": "sqlite:////tmp/allora-deploy-check.sqlite3",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.allora.example:587",
}


def manage(*args, **env):
    # Only what a production host would have: no test-only switches such as the async override.
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    base["DJANGO_SETTINGS_MODULE"] = "allora.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_check_deploy_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_without_secret_key_refuses_to_start():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_a_bad_boolean_is_refused():
    result = manage("check", **{**PRODUCTION, "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_production_refuses_to_start_with_the_second_factor_off_unless_acknowledged():
    refused = manage("check", **{**PRODUCTION, "OTP_REQUIRED_FOR_STAFF": "false"})
    assert refused.returncode != 0
    assert "OTP_REQUIRED_FOR_STAFF=false" in refused.stderr
    assert "OTP_NOT_REQUIRED_ACKNOWLEDGED=true" in refused.stderr

    acknowledged = manage(
        "check",
        **{
            **PRODUCTION,
            "OTP_REQUIRED_FOR_STAFF": "false",
            "OTP_NOT_REQUIRED_ACKNOWLEDGED": "true",
        },
    )
    assert acknowledged.returncode == 0, acknowledged.stderr


def test_the_second_factor_is_enforced_in_production_and_off_while_developing():
    code = "from django.conf import settings; print(settings.OTP_REQUIRED_FOR_STAFF)"
    production = manage("shell", "--no-imports", "-c", code, **PRODUCTION)
    assert production.stdout.strip() == "True", production.stderr
    development = manage("shell", "--no-imports", "-c", code, DEBUG="true")
    assert development.stdout.strip() == "False", development.stderr


@pytest.mark.parametrize(
    "database, prepared",
    [
        ("postgres://allora@db.example:5432/allora", "True 5"),
        ("sqlite:////tmp/allora-deploy-check.sqlite3", "None None"),
    ],
)
def test_postgresql_plans_the_pages_statements_once_unless_told_not_to(database, prepared):
    code = (
        "from django.conf import settings; options = settings.DATABASES['default']['OPTIONS']; "
        "print(options.get('server_side_binding'), options.get('prepare_threshold'))"
    )
    found = manage("shell", "--no-imports", "-c", code, **{**PRODUCTION, "DATABASE_URL": database})
    assert found.stdout.strip() == prepared, found.stderr
    off = {**PRODUCTION, "DATABASE_URL": database, "DATABASE_PREPARED_STATEMENTS": "false"}
    assert manage("shell", "--no-imports", "-c", code, **off).stdout.strip() == "None None"


def test_a_web_worker_loads_every_view_and_puts_it_out_of_the_collectors_reach():
    code = (
        "import gc, sys; import allora.wsgi; "
        "print(gc.get_freeze_count() > 50_000, 'agreements.views' in sys.modules)"
    )
    found = manage("shell", "--no-imports", "-c", code, **PRODUCTION)
    assert found.stdout.strip() == "True True", found.stderr


def test_heartbeat_task_records_the_worker(db):
    from allora.models import Heartbeat
    from allora.tasks import heartbeat

    heartbeat.delay()
    assert Heartbeat.objects.get(name="worker").last_seen is not None


def test_healthz_answers(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
