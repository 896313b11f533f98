"""Authorization matrix rows for the billing app's invoicing URLs (merged by
allora/tests/test_authorization.py): URL name -> (build(objs) -> kwargs or None, expected codes).

``objs`` holds customer A's active agreement (``agreement``) among others; the builders add an
invoice of customer A (the portal's rows, in portal/tests/authz_rows.py, use it too)."""

from allora.tests.authz import ADMIN, STAFF
from billing.tests.factories import make_invoice


def _invoice(objs):
    if "invoice" not in objs:
        objs["invoice"] = make_invoice(objs["agreement"])
    return {"pk": objs["invoice"].pk}


def _agreement(objs):
    return {"pk": objs["agreement"].pk}


ROWS = {
    "billing:invoice_list": (None, STAFF),
    "billing:invoice_export": (None, STAFF),
    "billing:accounting_export": (None, STAFF),
    "billing:invoice_detail": (_invoice, STAFF),
    "billing:invoice_pdf": (_invoice, STAFF),
    "billing:payment_create": (_invoice, STAFF),
    "billing:invoice_void": (_invoice, ADMIN),
    "billing:time_entry_list": (None, STAFF),
    "billing:time_entry_create": (None, STAFF),
    "billing:early_termination": (_agreement, STAFF),
}
