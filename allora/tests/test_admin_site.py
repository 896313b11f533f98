"""Issue 13: the Django admin keeps what an Allora admin uses; celery-beat's solar and clocked
schedules and the worker's heartbeat are not shown (the heartbeat is on the staff home), and the
terms and conditions versions and response tiers have their own settings pages instead."""

import pytest
from django.contrib.admin import site
from django.urls import NoReverseMatch, reverse
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from agreements.models import ResponseTier, TermsTemplate
from allora.models import Heartbeat


@pytest.fixture
def admin_client(admin, client_for):
    admin.is_superuser = True  # as the demo's admins are: a superuser sees every registered model
    admin.save(update_fields=["is_superuser"])
    return client_for(admin)


def test_the_admin_index_leaves_out_what_admins_do_not_use(admin_client):
    index = admin_client.get(reverse("admin:index"))
    shown = {model["object_name"] for app in index.context["app_list"] for model in app["models"]}
    assert {"PeriodicTask", "CrontabSchedule", "IntervalSchedule"} <= shown  # README: the jobs
    hidden = {"SolarSchedule", "ClockedSchedule", "Heartbeat", "TermsTemplate", "ResponseTier"}
    assert not hidden & shown
    for model in (SolarSchedule, ClockedSchedule, Heartbeat, TermsTemplate, ResponseTier):
        assert not site.is_registered(model)
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert site.is_registered(CrontabSchedule) and site.is_registered(IntervalSchedule)


def test_the_periodic_task_form_offers_no_solar_or_clocked_schedule(admin_client):
    task = PeriodicTask.objects.create(
        name="renew", task="agreements.tasks.renew", crontab=CrontabSchedule.objects.create()
    )
    page = admin_client.get(reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]))
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert "crontab" in form.fields and "interval" in form.fields
    assert "solar" not in form.fields and "clocked" not in form.fields
