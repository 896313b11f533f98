from allora.management.dates import JobCommand
from billing import receivables


class Command(JobCommand):
    help = "Daily job (also run by Celery beat): see billing.receivables.send_payment_reminders."
    done = "Payment reminders claimed"

    def run(self, today):
        return receivables.send_payment_reminders(today=today)
