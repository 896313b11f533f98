"""Emergency requests and alerts now belong to ``delivery`` (its migration 0001 took them over
on the same tables): drop them from this app's state only; the tables and rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("scheduling", "0002_emergency_requests_and_alerts"),
        ("delivery", "0001_initial"),
        # Time entries point at delivery.EmergencyRequest before this app's model leaves the state.
        ("billing", "0006_time_entries_point_at_delivery"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="EmergencyAlert"),
                migrations.DeleteModel(name="EmergencyRequest"),
            ],
        ),
    ]
