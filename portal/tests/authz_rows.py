"""Authorization matrix rows for the portal's URLs (merged by
allora/tests/test_authorization.py): URL name -> (build(objs) -> kwargs or None, expected codes).

``objs`` holds customer A's objects (see the ``objects`` fixture there); every object a row asks
for belongs to customer A, so bob (customer B, the outsider) gets a 404, never a hint it exists,
and staff get a 403: the portal is for customer users only."""

from allora.tests.authz import PORTAL
from billing.tests.authz_rows import _invoice
from scheduling.tests.authz_rows import _visit

PORTAL_OF_A = (302, 404, 200, 403, 403)


def _contact(objs):
    return {"pk": objs["contact"].pk}


def _agreement(objs):
    return {"pk": objs["agreement"].pk}


def _sent_agreement(objs):
    return {"pk": objs["sent"].agreement_id}


def _signed_version(objs):
    return {"pk": objs["signed_version"].pk}


def _termination(objs):
    return {"pk": objs["termination"].pk}


ROWS = {
    "portal:home": (None, PORTAL),
    "portal:contact": (_contact, PORTAL_OF_A),
    "portal:agreement_list": (None, PORTAL),
    "portal:agreement_detail": (_agreement, PORTAL_OF_A),
    "portal:agreement_sign": (_sent_agreement, PORTAL_OF_A),
    "portal:signed_documents": (_agreement, PORTAL_OF_A),
    "portal:signed_pdf": (_signed_version, PORTAL_OF_A),
    "portal:terminate": (_agreement, PORTAL_OF_A),
    "portal:withdraw_termination": (_termination, PORTAL_OF_A),
    "portal:schedule": (None, PORTAL),
    "portal:calendar": (None, PORTAL),
    "portal:feed_regenerate": (None, PORTAL),
    "portal:visit_detail": (_visit, PORTAL_OF_A),
    "portal:invoice_list": (None, PORTAL),
    "portal:invoice_detail": (_invoice, PORTAL_OF_A),
    "portal:invoice_pdf": (_invoice, PORTAL_OF_A),
}

# What carol (customer A's billing contact, not an authorized signer) gets where it differs from
# alice, the signer: the signing page sends her back to the agreement, and the termination
# request is refused (403, with the reason).
NON_SIGNER = {
    "portal:agreement_sign": 302,
    "portal:terminate": 403,
    "portal:withdraw_termination": 403,
}
