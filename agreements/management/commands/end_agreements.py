from agreements import lifecycle
from allora.management.dates import JobCommand


class Command(JobCommand):
    help = "Daily job (also run by Celery beat): see agreements.lifecycle.end_due_agreements."
    done = "Ended agreements"

    def run(self, today):
        return lifecycle.end_due_agreements(today=today)
