"""Authorization matrix rows (merged by allora/tests/test_authorization.py) for the staff's
global search and the CSV exports of the staff lists: each export has its list's audience."""

from allora.tests.authz import ADMIN, STAFF

ROWS = {
    "search": (None, STAFF),
    "agreements:customer_export": (None, STAFF),
    "agreements:agreement_export": (None, STAFF),
    "agreements:renewal_export": (None, ADMIN),
    "billing:invoice_list_export": (None, STAFF),
    "billing:time_entry_export": (None, STAFF),
    "scheduling:visit_export": (None, STAFF),
}
