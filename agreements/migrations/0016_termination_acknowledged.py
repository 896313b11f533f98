"""A customer's termination request waits for a staff member to acknowledge it (issue 13).
Requests staff recorded themselves (a letter or an email) were seen by whoever recorded them:
they count as acknowledged then, so only customers' requests start in the queue."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def acknowledge_recorded_requests(apps, schema_editor):
    TerminationRequest = apps.get_model("agreements", "TerminationRequest")
    TerminationRequest.objects.exclude(channel="portal").update(
        acknowledged_at=models.F("received_at"), acknowledged_by=models.F("filed_by")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0015_term_end_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="terminationrequest",
            name="acknowledged_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="terminationrequest",
            name="acknowledged_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="agreementevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("drafted", "Drafted"),
                    ("edited", "Draft edited"),
                    ("sent", "Sent for signature"),
                    ("recalled", "Recalled to draft"),
                    ("signed", "Signed by the customer"),
                    ("countersigned", "Countersigned by Allora"),
                    ("pdf", "Signed PDF stored"),
                    ("activated", "Activated"),
                    ("amendment", "Amendment drafted"),
                    ("amended", "Amendment in effect"),
                    ("visits_replanned", "Visits re-planned"),
                    ("termination_request", "Termination request"),
                    ("request_withdrawn", "Termination request withdrawn"),
                    ("request_acknowledged", "Termination request acknowledged"),
                    ("rates_finalized", "Rates finalized"),
                    ("reminder", "Reminder sent"),
                    ("renewed", "Renewed"),
                    ("ended", "Ended"),
                    ("terminated", "Terminated early"),
                    ("billing_problem", "Billing problem"),
                    ("imported", "Imported"),
                ],
                max_length=40,
            ),
        ),
        migrations.RunPython(acknowledge_recorded_requests, migrations.RunPython.noop),
    ]
