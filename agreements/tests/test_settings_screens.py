"""Issue 13, "Settings with no screen": admins keep the terms and conditions versions
(/settings/terms/) and the response tiers (/settings/response-tiers/) on their own pages; what a
sent or signed agreement was written on never changes there."""

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from agreements.models import ResponseTier, TermsTemplate
from agreements.tests.factories import draft_with_all_services, response_tier, signed_agreement
from allora.tests.test_csp import inline_code
from billing.tests.factories import published_card

TERMS_BODY = "## 1. Term\nTwo years,\nrenewing.\n\n## 2. Fees\nAs in Exhibit A.\n"


@pytest.fixture(autouse=True)
def rates(db):
    return published_card()


@pytest.fixture
def admin_client(admin, client_for):
    return client_for(admin)


@pytest.fixture
def signed(customer_a, alice, admin):
    return signed_agreement(customer=customer_a, customer_user=alice, admin=admin, pdf=False)


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def terms_url(view, terms=None):
    return reverse(f"agreements:terms_{view}", args=[terms.pk] if terms else [])


def tier_url(view, tier=None):
    return reverse(f"agreements:tier_{view}", args=[tier.pk] if tier else [])


# Terms and conditions versions ---------------------------------------------------------------


def test_the_terms_list_shows_each_version_its_status_and_how_many_agreements_use_it(
    admin_client, signed
):
    draft = TermsTemplate.add_version(title="Customer Agreement 2027", body=TERMS_BODY)
    page = admin_client.get(terms_url("list"))
    assert page.status_code == 200
    rows = [
        (t.version, t.published_at is not None, t.agreement_count) for t in page.context["versions"]
    ]
    assert rows == [(draft.version, False, 0), (signed.terms_template.version, True, 1)]
    assert "Customer Agreement 2027" in page.content.decode()
    assert inline_code(page.content.decode()) == []


def test_a_new_version_is_a_copy_of_the_latest_and_takes_the_next_number(admin_client, signed):
    latest = signed.terms_template
    page = admin_client.get(terms_url("create"))
    assert page.context["form"].initial == {"title": latest.title, "body": latest.body}
    assert f"A copy of v{latest.version}" in page.content.decode()

    response = admin_client.post(
        terms_url("create"), {"title": "Customer Agreement 2027", "body": TERMS_BODY}
    )
    new = TermsTemplate.objects.get(version=latest.version + 1)
    assert response.status_code == 302 and response["Location"] == terms_url("detail", new)
    assert (new.title, new.body, new.published_at) == ("Customer Agreement 2027", TERMS_BODY, None)
    latest.refresh_from_db()
    assert latest.body != TERMS_BODY  # the copy changed, not the original


def test_a_draft_is_edited_and_previewed_as_the_agreement_document_shows_its_sections(
    admin_client, signed
):
    draft = TermsTemplate.add_version(title="Customer Agreement", body=TERMS_BODY)
    assert admin_client.get(terms_url("edit", draft)).status_code == 200
    body = TERMS_BODY + "\n## 3. Notices\nIn writing.\n"
    response = admin_client.post(
        terms_url("edit", draft), {"title": "Agreement 2027", "body": body}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.title, draft.body) == ("Agreement 2027", body)

    preview = admin_client.get(terms_url("detail", draft))
    html = preview.content.decode()
    assert preview.context["sections"] == draft.sections()
    assert '<h3 class="doc-section-title">3. Notices</h3>' in html
    assert "<p>Two years, renewing.</p>" in html
    assert terms_url("publish", draft) in html and terms_url("edit", draft) in html
    assert inline_code(html) == []


def test_publishing_asks_first_then_offers_the_version_to_new_agreements(
    client_for, admin, staff, signed
):
    draft = TermsTemplate.add_version(title="Customer Agreement 2027", body=TERMS_BODY)

    def offered():
        page = client_for(staff).get(reverse("agreements:agreement_create"))
        return list(page.context["form"].fields["terms_template"].queryset)

    assert draft not in offered()

    confirm = client_for(admin).get(terms_url("publish", draft))
    assert confirm.status_code == 200
    assert f"Publish terms v{draft.version}?" in confirm.content.decode()
    draft.refresh_from_db()
    assert draft.published_at is None  # a GET asks, it publishes nothing

    published = client_for(admin).post(terms_url("publish", draft))
    assert published.status_code == 302
    assert f"Terms v{draft.version} published" in said(published)[0]
    draft.refresh_from_db()
    assert draft.published_at is not None
    assert offered()[0] == draft  # the newest version comes first (the form's default)


@pytest.mark.parametrize("used", [True, False], ids=["used by an agreement", "published"])
def test_published_or_used_terms_refuse_edits_and_deletion(used, admin_client, signed):
    terms = signed.terms_template
    if not used:
        terms = TermsTemplate.add_version(title="Unused", body=TERMS_BODY)
        terms.publish(now=terms.created_at)
    before = TermsTemplate.objects.values().get(pk=terms.pk)

    detail = admin_client.get(terms_url("detail", terms)).content.decode()
    assert terms_url("edit", terms) not in detail and terms_url("delete", terms) not in detail
    assert "can no longer be edited or deleted" in detail

    for response in (
        admin_client.get(terms_url("edit", terms)),
        admin_client.post(terms_url("edit", terms), {"title": "Changed", "body": "Changed"}),
        admin_client.get(terms_url("delete", terms)),
        admin_client.post(terms_url("delete", terms)),
    ):
        assert response.status_code == 302
        assert response["Location"] == terms_url("detail", terms)
        state = "used by agreements" if used else "published"
        assert said(response)[-1] == terms.frozen_reason()
        assert f"are {state}, so they can no longer be edited or deleted" in said(response)[-1]
    assert TermsTemplate.objects.values().get(pk=terms.pk) == before


def test_publishing_twice_only_warns(admin_client, signed):
    response = admin_client.post(terms_url("publish", signed.terms_template))
    assert said(response) == [f"Terms v{signed.terms_template.version} are already published."]


def test_the_model_refuses_to_revise_or_remove_frozen_terms(signed):
    terms = signed.terms_template
    with pytest.raises(ValidationError, match="can no longer be edited"):
        terms.revise(title="Changed", body="Changed")
    with pytest.raises(ValidationError, match="can no longer be edited"):
        terms.remove()
    assert TermsTemplate.objects.get(pk=terms.pk).body != "Changed"


def test_a_draft_nobody_uses_is_deleted_after_a_confirmation(admin_client, signed):
    draft = TermsTemplate.add_version(title="Mistake", body=TERMS_BODY)
    confirm = admin_client.get(terms_url("delete", draft))
    assert confirm.status_code == 200 and "Delete the draft terms" in confirm.content.decode()
    assert TermsTemplate.objects.filter(pk=draft.pk).exists()
    response = admin_client.post(terms_url("delete", draft))
    assert response["Location"] == terms_url("list")
    assert not TermsTemplate.objects.filter(pk=draft.pk).exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": "", "body": TERMS_BODY}, "title", "Give the terms a title."),
        ({"title": "x" * 201, "body": TERMS_BODY}, "title", "at most 200 characters"),
        ({"title": "Terms", "body": "  \n\n "}, "body", "the body cannot be empty"),
        (
            {"title": "Terms", "body": "## A\n" + "x" * TermsTemplate.BODY_MAX_LENGTH},
            "body",
            "at most 100000 characters long (they have 100005)",
        ),
    ],
    ids=["empty title", "long title", "blank body", "body too long"],
)
def test_terms_out_of_bounds_are_refused_with_a_message(
    fields, field, message, admin_client, signed
):
    count = TermsTemplate.objects.count()
    draft = TermsTemplate.add_version(title="Draft", body=TERMS_BODY)
    for url in (terms_url("create"), terms_url("edit", draft)):
        page = admin_client.post(url, fields)
        assert page.status_code == 200
        assert message in " ".join(page.context["form"].errors[field])
    assert TermsTemplate.objects.count() == count + 1
    draft.refresh_from_db()
    assert (draft.title, draft.body) == ("Draft", TERMS_BODY)


# Response tiers --------------------------------------------------------------------------------


def tier_form(tier, **changes):
    fields = {
        "name": tier.name,
        "response_minutes": tier.response_minutes,
        "business_hours_only": "on" if tier.business_hours_only else "",
        "is_active": "on" if tier.is_active else "",
        **changes,
    }
    return {name: value for name, value in fields.items() if value != ""}


def test_a_tier_is_added_and_listed(admin_client):
    response = admin_client.post(
        tier_url("create"),
        {
            "name": "8 business hours",
            "response_minutes": 480,
            "business_hours_only": "on",
            "is_active": "on",
        },
    )
    assert response["Location"] == tier_url("list")
    tier = ResponseTier.objects.get(name="8 business hours")
    assert (tier.response_minutes, tier.business_hours_only, tier.is_active) == (480, True, True)
    page = admin_client.get(tier_url("list"))
    assert tier in page.context["tiers"]
    assert "Business hours" in page.content.decode()
    assert inline_code(page.content.decode()) == []


def test_a_tier_in_a_sent_agreement_keeps_its_guarantee_read_only_but_can_be_deactivated(
    admin_client, signed
):
    tier = signed.lines.get(response_tier__isnull=False).response_tier

    page = admin_client.get(tier_url("edit", tier))
    html = page.content.decode()
    assert "its name, response time and business-hours rule are read-only" in html
    form = page.context["form"]
    assert [name for name, field in form.fields.items() if field.disabled] == list(
        ResponseTier.GUARANTEE_FIELDS
    )

    response = admin_client.post(
        tier_url("edit", tier), tier_form(tier, name="Renamed", response_minutes=5, is_active="")
    )
    assert response.status_code == 302
    tier.refresh_from_db()
    assert (tier.name, tier.response_minutes, tier.is_active) == ("1 hour, 24×7", 60, False)


def test_a_tier_only_drafts_use_can_be_corrected_but_not_deleted(admin_client):
    version = draft_with_all_services()
    tier = version.lines.get(response_tier__isnull=False).response_tier
    assert admin_client.get(tier_url("edit", tier)).context["lock_reason"] == ""

    admin_client.post(tier_url("edit", tier), tier_form(tier, name="1 hour, 24/7"))
    tier.refresh_from_db()
    assert tier.name == "1 hour, 24/7"

    assert tier_url("delete", tier) not in admin_client.get(tier_url("list")).content.decode()
    for response in (
        admin_client.get(tier_url("delete", tier)),
        admin_client.post(tier_url("delete", tier)),
    ):
        assert response["Location"] == tier_url("list")
        assert said(response)[-1] == tier.deletion_refusal()
        assert "cannot be deleted: deactivate it instead" in said(response)[-1]
    assert ResponseTier.objects.filter(pk=tier.pk).exists()


def test_deactivating_a_tier_hides_it_from_new_agreements_and_reactivating_offers_it_again(
    client_for, admin, staff
):
    version = draft_with_all_services()
    kept = version.lines.get(response_tier__isnull=False)
    retired = response_tier("Next business day", 1440, business_hours_only=True)
    new_line = reverse("agreements:line_create", args=[version.agreement_id, "emergency"])

    def offered(url=new_line):
        return set(client_for(staff).get(url).context["form"].fields["response_tier"].queryset)

    assert retired in offered()
    for tier in (retired, kept.response_tier):
        response = client_for(staff).post(tier_url("toggle", tier))
        assert response.status_code == 403  # admins only
        response = client_for(admin).post(tier_url("toggle", tier))
        assert "is deactivated: new agreements no longer offer it" in said(response)[0]
    assert retired not in offered() and kept.response_tier not in offered()
    # A line that already names a deactivated tier keeps it when it is edited.
    assert kept.response_tier in offered(reverse("agreements:line_edit", args=[kept.pk]))

    response = client_for(admin).post(tier_url("toggle", retired))
    assert said(response) == ["“Next business day” is offered to new agreements again."]
    assert retired in offered()


def test_an_unused_tier_is_deleted_after_a_confirmation(admin_client):
    tier = response_tier("Same day", 480, business_hours_only=True)
    confirm = admin_client.get(tier_url("delete", tier))
    assert confirm.status_code == 200 and "Delete the response tier “Same day”?" in (
        confirm.content.decode()
    )
    response = admin_client.post(tier_url("delete", tier))
    assert said(response) == ["Response tier “Same day” deleted."]
    assert not ResponseTier.objects.filter(pk=tier.pk).exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Give the tier a name."),
        ({"name": "x" * 101}, "name", "at most 100 characters"),
        ({"name": "1 hour, 24×7"}, "name", "There is already a tier with this name."),
        ({"response_minutes": 0}, "response_minutes", "greater than or equal to 1"),
        ({"response_minutes": 10081}, "response_minutes", "less than or equal to 10080"),
        ({"response_minutes": "soon"}, "response_minutes", "Enter a whole number."),
    ],
)
def test_tiers_out_of_bounds_are_refused_with_a_message(changes, field, message, admin_client):
    response_tier()
    tier = response_tier("Same day", 480)
    count = ResponseTier.objects.count()
    for url in (tier_url("create"), tier_url("edit", tier)):
        page = admin_client.post(url, tier_form(tier, **{"name": "Other", **changes}))
        assert page.status_code == 200
        assert message in " ".join(page.context["form"].errors[field])
    assert ResponseTier.objects.count() == count
    tier.refresh_from_db()
    assert (tier.name, tier.response_minutes) == ("Same day", 480)


def test_the_model_refuses_to_change_the_guarantee_of_a_tier_in_a_signed_agreement(signed):
    tier = signed.lines.get(response_tier__isnull=False).response_tier
    tier.response_minutes = 30
    with pytest.raises(ValidationError):
        tier.save()
    with pytest.raises(ValidationError, match="cannot be deleted"):
        tier.remove()
    tier.refresh_from_db()
    tier.set_active(False)  # retiring it is fine
    assert ResponseTier.objects.get(pk=tier.pk).is_active is False


# Query counts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [1, 6])
def test_the_terms_list_reads_a_constant_number_of_queries(
    extra, admin_client, signed, django_assert_num_queries
):
    for n in range(extra):
        TermsTemplate.add_version(title=f"Draft {n}", body=TERMS_BODY)
    # the session with its user (sign-in), the versions with their agreement counts (one query).
    with django_assert_num_queries(2):
        assert admin_client.get(terms_url("list")).status_code == 200


@pytest.mark.parametrize("extra", [1, 6])
def test_the_tier_list_reads_a_constant_number_of_queries(
    extra, admin_client, signed, django_assert_num_queries
):
    for n in range(extra):
        response_tier(f"Tier {n}", 60 + n)
    # the session with its user (sign-in), the tiers with whether agreements name them.
    with django_assert_num_queries(2):
        assert admin_client.get(tier_url("list")).status_code == 200


def test_the_settings_menu_links_the_pages_for_admins_only(client_for, admin, staff):
    links = [
        terms_url("list"),
        tier_url("list"),
        reverse("billing:reminder_steps"),
        reverse("company_settings"),
    ]
    home = client_for(admin).get(reverse("staff_home")).content.decode()
    assert all(f'href="{link}"' in home for link in links)
    page = client_for(admin).get(tier_url("list")).content.decode()
    assert f'active" aria-current="page" href="{tier_url("list")}"' in page
    home = client_for(staff).get(reverse("staff_home")).content.decode()
    assert not any(f'href="{link}"' in home for link in links)
