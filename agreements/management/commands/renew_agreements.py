from agreements import lifecycle
from allora.management.dates import JobCommand


class Command(JobCommand):
    help = "Daily job (also run by Celery beat): see agreements.lifecycle.renew_due_agreements."
    done = "Renewed terms"

    def run(self, today):
        return lifecycle.renew_due_agreements(today=today)
