"""Authorization matrix rows for the receivables URLs, staff and portal (merged by
allora/tests/test_authorization.py): URL name -> (build(objs) -> kwargs or None, codes).

The aging and a customer's statement are for staff, like the invoices; the reminder settings for
admins. The portal's statement has no id in its URL: it is always the signed-in user's own
customer (bob sees his own, never A's: billing/tests/test_receivables.py)."""

from allora.tests.authz import ADMIN, ADMIN_POST, PORTAL, STAFF
from billing.models import ReminderStep


def _customer(objs):
    return {"pk": objs["customer"].pk}


def _step(objs):
    return {"pk": ReminderStep.objects.get_or_create(days=0)[0].pk}


ROWS = {
    "billing:aging": (None, STAFF),
    "billing:aging_csv": (None, STAFF),
    "billing:customer_statement": (_customer, STAFF),
    "billing:customer_statement_pdf": (_customer, STAFF),
    "billing:reminder_steps": (None, ADMIN),
    "billing:reminder_step_toggle": (_step, ADMIN_POST),
    "billing:reminder_step_delete": (_step, ADMIN),
    "portal:statement": (None, PORTAL),
    "portal:statement_pdf": (None, PORTAL),
}
