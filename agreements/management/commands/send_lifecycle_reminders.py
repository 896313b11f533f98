from agreements import lifecycle
from allora.management.dates import JobCommand


class Command(JobCommand):
    help = "Daily job (also run by Celery beat): see agreements.lifecycle.send_lifecycle_reminders."
    done = "Reminders sent"

    def run(self, today):
        return lifecycle.send_lifecycle_reminders(today=today)
