"""Every URL of the project, for every kind of visitor.

A URL added without a row here fails ``test_every_url_has_a_row``. Rows give the URL's
arguments (built from the fixtures; objects belong to customer A) and the status code that
anonymous, bob (customer B, the outsider), alice (customer A), staff and admin get for a GET.
302 for anonymous means "sent to sign in".
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from agreements import lifecycle, signing
from agreements.tests.authz_rows_settings import ROWS as SETTINGS_ROWS
from agreements.tests.factories import (
    ContactFactory,
    draft_with_all_services,
    evidence,
    sent_agreement,
    signed_agreement,
)
from allora.tests.authz import (
    ADMIN,
    ADMIN_POST,
    LOGIN,
    POST_ONLY_PUBLIC,
    PUBLIC,
    ROLES,
    SIGNED_IN,
    STAFF,
    STAFF_POST,
    billing_contact_of,
)
from allora.tests.authz_rows_api import NON_SIGNER as API_PAGE_NON_SIGNER
from allora.tests.authz_rows_api import ROWS as API_PAGE_ROWS
from allora.tests.authz_rows_search import ROWS as SEARCH_ROWS
from allora.tests.authz_rows_signin import ROWS as SIGN_IN_ROWS
from billing.tests.authz_rows import ROWS as BILLING_ROWS
from billing.tests.authz_rows_credits import ROWS as CREDIT_ROWS
from billing.tests.authz_rows_receivables import ROWS as RECEIVABLES_ROWS
from billing.tests.factories import RateCardFactory, published_card
from delivery.tests.authz_rows import ROWS as DELIVERY_ROWS
from integrations.tests.authz_rows import ROWS as INTEGRATIONS_ROWS
from portal.tests.authz_rows import NON_SIGNER as PORTAL_NON_SIGNER
from portal.tests.authz_rows import ROWS as PORTAL_ROWS
from scheduling.tests.authz_rows import ROWS as SCHEDULING_ROWS


def _customer(objs):
    return {"pk": objs["customer"].pk}


def _contact(objs):
    return {"pk": objs["contact"].pk}


def _card(objs):
    return {"pk": objs["card"].pk}


def _draft(objs):
    return {"pk": objs["draft"].pk}


def _agreement(objs):
    return {"pk": objs["agreement"].pk}


def _draft_agreement(objs):
    return {"pk": objs["draft_agreement"].pk}


def _sent_agreement(objs):
    return {"pk": objs["sent"].agreement_id}


def _awaiting_agreement(objs):
    return {"pk": objs["awaiting"].agreement_id}


def _termination(objs):
    return {"pk": objs["termination"].pk}


def _review(objs):
    return {"pk": objs["review"].pk}


def _line(objs):
    return {"pk": objs["line"].pk}


def _signed_version(objs):
    return {"pk": objs["signed_version"].pk}


MATRIX = {
    "home": (None, SIGNED_IN),
    "healthz": (None, PUBLIC),
    "staff_home": (None, STAFF),
    "staff_figures_refresh": (None, STAFF_POST),
    "login": (None, LOGIN),
    "logout": (None, POST_ONLY_PUBLIC),
    "password_reset": (None, PUBLIC),
    "password_reset_done": (None, PUBLIC),
    "password_reset_confirm": (lambda objs: {"uidb64": "MQ", "token": "bad-token"}, PUBLIC),
    "password_reset_complete": (None, PUBLIC),
    "agreements:customer_list": (None, STAFF),
    "agreements:customer_options": (None, STAFF),
    "agreements:agreement_options": (None, STAFF),
    "agreements:customer_create": (None, STAFF),
    "agreements:customer_detail": (_customer, STAFF),
    "agreements:customer_edit": (_customer, STAFF),
    "agreements:customer_feed_rotate": (_customer, STAFF),
    "agreements:contact_create": (lambda objs: {"customer_pk": objs["customer"].pk}, STAFF),
    "agreements:contact_edit": (_contact, STAFF),
    "agreements:contact_invite": (_contact, STAFF_POST),
    "agreements:contact_revoke": (_contact, STAFF),
    "agreements:agreement_list": (None, STAFF),
    "agreements:agreement_create": (None, STAFF),
    "agreements:agreement_detail": (_agreement, STAFF),
    "agreements:agreement_versions": (_agreement, STAFF),
    "agreements:version_edit": (_draft_agreement, STAFF),
    "agreements:line_create": (
        lambda objs: {"pk": objs["draft_agreement"].pk, "kind": "maintenance"},
        STAFF,
    ),
    "agreements:line_edit": (_line, STAFF),
    "agreements:line_delete": (_line, STAFF),
    "agreements:agreement_pdf": (_agreement, STAFF),
    "agreements:agreement_send": (_draft_agreement, STAFF),
    "agreements:agreement_recall": (_agreement, STAFF_POST),
    "agreements:agreement_resend": (_sent_agreement, STAFF),
    "agreements:agreement_countersign": (_awaiting_agreement, ADMIN),
    "agreements:agreement_amend": (_agreement, STAFF_POST),
    "agreements:signed_pdf": (_signed_version, STAFF),
    "agreements:version_verify": (_signed_version, STAFF_POST),
    "agreements:record_termination": (_agreement, STAFF),
    "agreements:withdraw_termination": (_termination, STAFF),
    "agreements:acknowledge_termination": (_termination, STAFF_POST),
    "agreements:renewal_queue": (None, ADMIN),
    "agreements:renewal_bulk": (None, ADMIN_POST),
    "company_settings": (None, ADMIN),
    "agreements:renewal_review": (_agreement, ADMIN),
    "agreements:renewal_review_preview": (_agreement, ADMIN),
    "agreements:renewal_finalize": (_review, ADMIN),
    "billing:ratecard_list": (None, STAFF),
    "billing:ratecard_create": (None, ADMIN),
    "billing:ratecard_detail": (_card, STAFF),
    "billing:ratecard_edit": (_draft, ADMIN),
    "billing:ratecard_publish": (_draft, ADMIN),
    "billing:ratecard_new_version": (_card, ADMIN_POST),
    **SCHEDULING_ROWS,
    **DELIVERY_ROWS,
    **INTEGRATIONS_ROWS,
    **SETTINGS_ROWS,
    **BILLING_ROWS,
    **RECEIVABLES_ROWS,
    **CREDIT_ROWS,
    **PORTAL_ROWS,
    **API_PAGE_ROWS,
    **SIGN_IN_ROWS,
    **SEARCH_ROWS,
}


def _names(patterns, namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue  # Django's admin site: checked in test_admin_site_is_for_admins_only
            if pattern.namespace == "api":
                continue  # the REST API: every operation is checked in test_api_matrix.py
            inner = pattern.namespace or namespace
            yield from _names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_has_a_row():
    names = set(_names(get_resolver().url_patterns))
    assert names - set(MATRIX) == set(), "add these URLs to the authorization matrix"
    assert set(MATRIX) - names == set(), "these matrix rows name no URL"


def test_every_view_declares_its_audience(objects):
    for name in MATRIX:
        match = get_resolver().resolve(reverse(name, kwargs=_kwargs(name, objects)))
        assert hasattr(match.func, "audience"), f"{name} does not declare who may see it"


def _kwargs(name, objs):
    build = MATRIX[name][0]
    return build(objs) if build else {}


@pytest.fixture
def objects(customer_a, admin, alice, bob, staff):
    card = published_card()
    draft = draft_with_all_services(customer=customer_a)
    signed = signed_agreement(customer=customer_a, customer_user=alice, admin=admin, pdf=False)
    sent = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    awaiting = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    signing.sign_as_customer(awaiting, user=alice, evidence=evidence())
    today = timezone.localdate()
    review = lifecycle.save_rate_review(signed.agreement, method="keep", by=admin, today=today)
    termination = lifecycle.file_termination_request(
        signed.agreement,
        by=alice,
        received_at=timezone.now(),
        reason="Moving offices",
        typed_name="Alice Moore",
        channel="portal",
    )
    return {
        "customer": customer_a,
        "contact": ContactFactory(customer=customer_a),
        "card": card,
        "draft": RateCardFactory(),
        "agreement": signed.agreement,
        "draft_agreement": draft.agreement,
        "line": draft.lines.first(),
        "signed_version": signed,
        "sent": sent,
        "awaiting": awaiting,
        "review": review,
        "termination": termination,
        "alice": alice,
        "bob": bob,
        "staff": staff,
        "admin": admin,
    }


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_authorization_matrix(name, objects, client_for, alice, bob, staff, admin):
    people = {"anonymous": None, "bob": bob, "alice": alice, "staff": staff, "admin": admin}
    url = reverse(name, kwargs=_kwargs(name, objects))
    expected = dict(zip(ROLES, MATRIX[name][1], strict=True))
    actual = {role: client_for(people[role]).get(url).status_code for role in ROLES}
    assert actual == expected, url


# Where carol, a customer user of A who is not an authorized signer, is answered otherwise than
# alice (a signer); everywhere else she gets what alice gets.
NON_SIGNER = {**PORTAL_NON_SIGNER, **API_PAGE_NON_SIGNER}


def test_a_customer_user_who_is_not_a_signer_gets_what_alice_gets_but_signing_and_ending(
    objects, client_for, customer_a
):
    carol = billing_contact_of(customer_a)
    client = client_for(carol)
    expected, actual = {}, {}
    for name in sorted(MATRIX):
        alice_code = dict(zip(ROLES, MATRIX[name][1], strict=True))["alice"]
        expected[name] = NON_SIGNER.get(name, alice_code)
        actual[name] = client.get(reverse(name, kwargs=_kwargs(name, objects))).status_code
    assert actual == expected


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(reverse("agreements:customer_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_admin_site_is_for_admins_only(client_for, alice, staff, admin):
    url = reverse("admin:index")
    assert client_for(None).get(url).status_code == 302
    assert client_for(alice).get(url).status_code == 302
    assert client_for(staff).get(url).status_code == 302
    assert client_for(admin).get(url).status_code == 200
