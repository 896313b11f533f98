"""Projects, estimates and approvals now belong to ``delivery`` (its migration 0001 took them
over on the same tables): drop them from this app's state only; the tables and rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("agreements", "0009_event_kinds"),
        ("delivery", "0001_initial"),
        # Time entries point at delivery.Project before agreements.Project leaves the state.
        ("billing", "0006_time_entries_point_at_delivery"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="ProjectApproval"),
                migrations.DeleteModel(name="ProjectEstimate"),
                migrations.DeleteModel(name="Project"),
            ],
        ),
    ]
