"""Time entries' emergency request and project are now ``delivery`` models (same tables, moved by
``delivery`` 0001): point the foreign keys there in the state only; columns and constraints
stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0005_prorated_quantity_and_credits"),
        ("delivery", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="timeentry",
                    name="emergency_request",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="time_entries",
                        to="delivery.emergencyrequest",
                    ),
                ),
                migrations.AlterField(
                    model_name="timeentry",
                    name="project",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="time_entries",
                        to="delivery.project",
                    ),
                ),
            ],
        ),
    ]
