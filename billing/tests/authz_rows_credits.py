"""Authorization matrix rows for one-off invoices, credit notes, customer credit and resending
(merged by allora/tests/test_authorization.py; the portal's credit note PDF too). Credit notes
are admins' (like voiding: they take money off what a customer owes); one-off invoices,
applying credit and resending are staff's (like recording a payment)."""

from decimal import Decimal

from allora.tests.authz import ADMIN, STAFF, STAFF_POST
from billing.tests.authz_rows import _invoice

PORTAL_OF_A = (302, 404, 200, 403, 403)


def _credit_note(objs):
    from billing.credits import issue_credit_note

    if "credit_note" not in objs:
        _invoice(objs)
        invoice = objs["invoice"]
        objs["credit_note"] = issue_credit_note(
            invoice,
            amount=Decimal("10.00"),
            reason="Goodwill",
            by=objs["admin"],
            today=invoice.issued_on,
        )
    return {"pk": objs["credit_note"].pk}


ROWS = {
    "billing:one_off_create": (None, STAFF),
    "billing:credit_note_create": (_invoice, ADMIN),
    "billing:invoice_apply_credit": (_invoice, STAFF_POST),
    "billing:invoice_resend": (_invoice, STAFF_POST),
    "billing:credit_note_detail": (_credit_note, STAFF),
    "billing:credit_note_pdf": (_credit_note, STAFF),
    "portal:credit_note_pdf": (_credit_note, PORTAL_OF_A),
}
