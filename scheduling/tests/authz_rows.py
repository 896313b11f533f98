"""Authorization matrix rows for the scheduling app's URLs (merged by
allora/tests/test_authorization.py): URL name -> (build(objs) -> kwargs or None, expected codes).

``objs`` holds: customer (A), agreement (A's active, signed agreement with its first term),
draft_agreement, alice (user of A), bob (user of B, the outsider), staff, admin. A builder may
create the objects its URL needs."""

from allora.tests.authz import STAFF

ROWS = {
    "scheduling:schedule_preview": (None, STAFF),
}
