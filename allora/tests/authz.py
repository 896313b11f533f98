"""Expected status codes for a GET, per visitor, in the order of ROLES.

Used by the authorization matrix (allora/tests/test_authorization.py) and by each app's rows
(``<app>/tests/authz_rows.py``), which the matrix merges.
"""

ROLES = ("anonymous", "bob", "alice", "staff", "admin")

STAFF = (302, 403, 403, 200, 200)
STAFF_POST = (302, 403, 403, 405, 405)
ADMIN = (302, 403, 403, 403, 200)
ADMIN_POST = (302, 403, 403, 403, 405)
PORTAL = (302, 200, 200, 403, 403)
PUBLIC = (200, 200, 200, 200, 200)
SIGNED_IN = (302, 302, 302, 302, 302)
SIGNED_IN_PAGE = (302, 200, 200, 200, 200)  # any signed-in person gets the page
LOGIN = (200, 302, 302, 302, 302)  # signed-in people are sent home
POST_ONLY_PUBLIC = (405, 405, 405, 405, 405)


def billing_contact_of(customer):
    """carol: a portal user of ``customer`` who is its billing contact and not an authorized
    signer. She sees what alice (a signer of customer A) sees, but may not sign nor file or
    withdraw the termination request: each rows file lists those answers in NON_SIGNER."""
    from agreements.tests.factories import ContactFactory
    from allora.tests.factories import UserFactory

    user = UserFactory(role="customer", customer=customer, email="carol@oakcity.example")
    ContactFactory(
        customer=customer,
        user=user,
        email=user.email,
        name="Carol Diaz",
        is_authorized_signer=False,
        is_billing_contact=True,
        has_portal_access=True,
    )
    return user
