"""Authorization matrix rows for the sign-in pages (merged by
allora/tests/test_authorization.py): invitations and the second factor. In the matrix nobody
has a second factor yet and enforcement is off (DEBUG-style defaults), so the verify, recovery
code and turn-off pages send everyone on; setting up an app is open to every signed-in person;
resetting someone else's is for admins."""

from allora.tests.authz import ADMIN, PUBLIC, SIGNED_IN, SIGNED_IN_PAGE

ROWS = {
    "invitation_accept": (lambda objs: {"uidb64": "MQ", "token": "bad-token"}, PUBLIC),
    "second_factor_verify": (None, SIGNED_IN),
    "second_factor_enroll": (None, SIGNED_IN_PAGE),
    "second_factor_recovery_codes": (None, SIGNED_IN),
    "second_factor_turn_off": (None, SIGNED_IN),
    "second_factor_reset": (lambda objs: {"pk": objs["staff"].pk}, ADMIN),
}
