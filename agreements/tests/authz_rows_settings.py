"""Authorization matrix rows for the settings pages of terms and response tiers (merged by
allora/tests/test_authorization.py): admins only. The objects are a draft terms version and a
tier nobody uses, so every page answers the admin 200 (a published version's edit page sends
the admin back to its preview instead)."""

from agreements.models import TermsTemplate
from agreements.tests.factories import response_tier
from allora.tests.authz import ADMIN, ADMIN_POST


def _draft_terms(objs):
    if "draft_terms" not in objs:
        objs["draft_terms"] = TermsTemplate.add_version(title="Next terms", body="## 1. Term\nA.")
    return {"pk": objs["draft_terms"].pk}


def _unused_tier(objs):
    if "unused_tier" not in objs:
        objs["unused_tier"] = response_tier("Next business day", 1440, business_hours_only=True)
    return {"pk": objs["unused_tier"].pk}


ROWS = {
    "agreements:terms_list": (None, ADMIN),
    "agreements:terms_create": (None, ADMIN),
    "agreements:terms_detail": (_draft_terms, ADMIN),
    "agreements:terms_edit": (_draft_terms, ADMIN),
    "agreements:terms_publish": (_draft_terms, ADMIN),
    "agreements:terms_delete": (_draft_terms, ADMIN),
    "agreements:tier_list": (None, ADMIN),
    "agreements:tier_create": (None, ADMIN),
    "agreements:tier_edit": (_unused_tier, ADMIN),
    "agreements:tier_toggle": (_unused_tier, ADMIN_POST),
    "agreements:tier_delete": (_unused_tier, ADMIN),
}
