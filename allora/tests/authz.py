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
