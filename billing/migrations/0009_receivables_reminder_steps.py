from django.db import migrations

# Payment reminders: 3 days before the due date, on it, then 7, 14 and 30 days after it.
# Admins change them in Invoices → Reminder settings.
DEFAULT_STEPS = (-3, 0, 7, 14, 30)


def add_steps(apps, schema_editor):
    ReminderStep = apps.get_model("billing", "ReminderStep")
    for days in DEFAULT_STEPS:
        ReminderStep.objects.get_or_create(days=days)


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_receivables_credit_notes_project_invoices")]

    operations = [migrations.RunPython(add_steps, migrations.RunPython.noop)]
