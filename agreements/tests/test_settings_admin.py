"""Issue 13, "Settings with no screen": the terms and conditions versions and the response tiers
are kept in the admin site; what a signed agreement was written on never changes there."""

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from agreements.models import ResponseTier, TermsTemplate
from agreements.tests.factories import (
    draft_with_all_services,
    response_tier,
    signed_agreement,
)
from allora.tests.test_csp import inline_code
from billing.tests.factories import published_card

TERMS_BODY = "## 1. Term\nTwo years.\n"


@pytest.fixture(autouse=True)
def rates(db):
    return published_card()


@pytest.fixture
def admin_client(admin, client_for):
    admin.is_superuser = True  # as the demo's admins are: the admin site checks model permissions
    admin.save(update_fields=["is_superuser"])
    return client_for(admin)


@pytest.fixture
def signed(customer_a, alice, admin):
    return signed_agreement(customer=customer_a, customer_user=alice, admin=admin, pdf=False)


def url(model, view, *args):
    return reverse(f"admin:agreements_{model._meta.model_name}_{view}", args=args)


def page_text(response):
    return response.content.decode()


@pytest.mark.parametrize("model", [TermsTemplate, ResponseTier])
def test_the_settings_are_in_the_admin_index_and_their_pages_answer(model, admin_client, signed):
    index = page_text(admin_client.get(reverse("admin:index")))
    assert url(model, "changelist") in index
    obj = model.objects.order_by("pk").first()
    for page in (url(model, "changelist"), url(model, "add"), url(model, "change", obj.pk)):
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert inline_code(page_text(response)) == [], page


def test_the_terms_list_says_which_version_agreements_use(admin_client, signed):
    TermsTemplate.objects.create(version=2, title="Customer Agreement", body=TERMS_BODY)
    rows = admin_client.get(url(TermsTemplate, "changelist")).context["cl"].result_list
    assert [(terms.version, terms.used) for terms in rows] == [(2, False), (1, True)]


def test_a_new_version_takes_the_next_number_and_is_a_draft_until_published(admin_client, signed):
    add = admin_client.get(url(TermsTemplate, "add"))
    assert add.context["adminform"].form.initial["version"] == 2

    response = admin_client.post(
        url(TermsTemplate, "add"),
        {"version": 2, "title": "Customer Agreement 2027", "body": TERMS_BODY},
    )
    assert response.status_code == 302
    draft = TermsTemplate.objects.get(version=2)
    assert draft.published_at is None

    # A draft is still edited.
    edited = admin_client.post(
        url(TermsTemplate, "change", draft.pk),
        {"version": 2, "title": "Customer Agreement (2027)", "body": TERMS_BODY},
    )
    assert edited.status_code == 302
    draft.refresh_from_db()
    assert draft.title == "Customer Agreement (2027)"

    published = admin_client.post(
        url(TermsTemplate, "changelist"),
        {"action": "publish", "_selected_action": [draft.pk]},
        follow=True,
    )
    draft.refresh_from_db()
    assert draft.published_at is not None
    assert "Published: v2." in [str(m) for m in get_messages(published.wsgi_request)]


def test_terms_a_signed_agreement_uses_cannot_be_changed_or_deleted(admin_client, signed):
    terms = signed.terms_template
    before = (terms.title, terms.body, terms.published_at)

    page = admin_client.get(url(TermsTemplate, "change", terms.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page_text(page)  # the view-only page: no Save button
    assert "so they can no longer be edited or deleted: a signed document never changes" in (
        page_text(page)
    )

    refused = admin_client.post(
        url(TermsTemplate, "change", terms.pk),
        {"version": terms.version, "title": "Changed", "body": "Changed"},
    )
    assert refused.status_code == 403
    assert (
        admin_client.post(url(TermsTemplate, "delete", terms.pk), {"post": "yes"}).status_code
        == 403
    )
    bulk = admin_client.post(
        url(TermsTemplate, "changelist"),
        {"action": "delete_selected", "_selected_action": [terms.pk], "post": "yes"},
    )
    assert bulk.context["perms_lacking"]  # the "cannot delete" page, nothing deleted

    terms.refresh_from_db()
    assert (terms.title, terms.body, terms.published_at) == before


def test_a_draft_terms_version_nobody_uses_can_be_deleted(admin_client, signed):
    draft = TermsTemplate.objects.create(version=2, body=TERMS_BODY)
    response = admin_client.post(url(TermsTemplate, "delete", draft.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not TermsTemplate.objects.filter(pk=draft.pk).exists()


def tier_form(tier, **changes):
    fields = {
        "name": tier.name,
        "response_minutes": tier.response_minutes,
        "business_hours_only": "on" if tier.business_hours_only else "",
        "is_active": "on" if tier.is_active else "",
        **changes,
    }
    return {name: value for name, value in fields.items() if value != ""}


def test_a_tier_in_a_signed_agreement_keeps_its_guarantee_but_can_be_retired(admin_client, signed):
    tier = signed.lines.get(response_tier__isnull=False).response_tier

    page = admin_client.get(url(ResponseTier, "change", tier.pk))
    assert "its name and response time are read-only" in page_text(page)

    response = admin_client.post(
        url(ResponseTier, "change", tier.pk),
        tier_form(tier, name="Renamed", response_minutes=5, is_active=""),
    )
    assert response.status_code == 302
    tier.refresh_from_db()
    assert (tier.name, tier.response_minutes, tier.is_active) == ("1 hour, 24×7", 60, False)

    assert (
        admin_client.post(url(ResponseTier, "delete", tier.pk), {"post": "yes"}).status_code == 403
    )
    assert ResponseTier.objects.filter(pk=tier.pk).exists()


def test_a_tier_only_drafts_use_can_still_be_corrected_but_not_deleted(admin_client):
    version = draft_with_all_services()
    tier = version.lines.get(response_tier__isnull=False).response_tier

    response = admin_client.post(
        url(ResponseTier, "change", tier.pk), tier_form(tier, name="1 hour, 24/7")
    )
    assert response.status_code == 302
    tier.refresh_from_db()
    assert tier.name == "1 hour, 24/7"
    assert (
        admin_client.post(url(ResponseTier, "delete", tier.pk), {"post": "yes"}).status_code == 403
    )


def test_an_unused_tier_can_be_deleted(admin_client):
    tier = response_tier("Same day", 480, business_hours_only=True)
    response = admin_client.post(url(ResponseTier, "delete", tier.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not ResponseTier.objects.filter(pk=tier.pk).exists()


def test_the_model_refuses_to_change_the_guarantee_of_a_tier_in_a_signed_agreement(signed):
    tier = signed.lines.get(response_tier__isnull=False).response_tier
    tier.response_minutes = 30
    with pytest.raises(ValidationError):
        tier.save()
    tier.refresh_from_db()
    tier.is_active = False
    tier.save()  # retiring it is fine
    assert ResponseTier.objects.get(pk=tier.pk).is_active is False
