"""The agreement document on the pages (`document.document_html`): a sent version's is rendered
once per process for each state of what it prints (issue 14: the template was 40% of the
agreement page) and is always what the template renders now: after each signature, when its term
changes, on the portal (the term in force) and on the staff page (the first term). A draft is
rendered every time."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.core.cache import caches
from django.template.loader import render_to_string
from django.urls import reverse

from agreements import document, signing
from agreements.document import DOCUMENT_TEMPLATE, document_context, document_html
from agreements.models import ServiceKind, Term
from agreements.tests.factories import (
    agreement_for_2027,
    draft_with_all_services,
    evidence,
    next_term,
    sent_agreement,
)
from billing.tests.factories import published_card

NOW = dt.datetime(2027, 3, 15, 16, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def documents(db):
    published_card(effective_date=dt.date(2026, 1, 1))
    caches["documents"].clear()
    yield caches["documents"]
    caches["documents"].clear()


def document_of(client, name, pk):
    """The document part of an agreement page (between its <article> tags)."""
    page = client.get(reverse(name, args=[pk])).content.decode()
    start = page.index('<article class="doc"')
    return page[start : page.index("</article>", start) + len("</article>")]


def test_a_sent_versions_document_is_rendered_once_as_the_template_renders_it(
    customer_a, alice, admin
):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    context = document_context(version, today=TODAY)
    expected = render_to_string(DOCUMENT_TEMPLATE, context)

    with mock.patch.object(document, "render_to_string", wraps=render_to_string) as render:
        first = document_html(context)
        again = document_html(document_context(version, today=TODAY))

    assert first == again == expected
    assert render.call_count == 1
    assert version.agreement.number in first and "Exhibit B" in first


@time_machine.travel(NOW)
def test_the_staff_page_prints_each_signature_as_it_is_made(client_for, customer_a, alice, admin):
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=admin)
    client = client_for(admin)
    name = "agreements:agreement_detail"

    sent = document_of(client, name, version.agreement_id)
    assert "Alice Moore" not in sent and "doc-signed" not in sent

    signing.sign_as_customer(version, user=alice, evidence=evidence(), now=NOW)
    customer_signed = document_of(client, name, version.agreement_id)
    assert "Alice Moore" in customer_signed and "Dana Whitfield" not in customer_signed

    signing.countersign(version, user=admin, evidence=evidence("Dana Whitfield"), now=NOW)
    signed = document_of(client, name, version.agreement_id)
    assert "Alice Moore" in signed and "Dana Whitfield" in signed
    version.refresh_from_db()
    now = render_to_string(DOCUMENT_TEMPLATE, document_context(version, today=TODAY))
    assert signed == now.rstrip()


@time_machine.travel(NOW)
def test_a_term_that_changes_is_printed_as_it_is_now(client_for, customer_a, alice, admin):
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    client = client_for(admin)
    name = "agreements:agreement_detail"
    assert "Term 1: January 1, 2027 to December 31, 2027" in document_of(client, name, agreement.pk)

    Term.objects.filter(agreement=agreement).update(end=dt.date(2027, 7, 1))

    shortened = document_of(client, name, agreement.pk)
    assert "Term 1: January 1, 2027 to June 30, 2027" in shortened
    assert "December 31, 2027" not in shortened


@time_machine.travel(dt.datetime(2028, 3, 15, 16, 0, tzinfo=dt.UTC))
def test_the_portal_prints_the_term_in_force_and_the_staff_page_the_first(
    client_for, customer_a, alice, admin
):
    agreement = agreement_for_2027(customer=customer_a, customer_user=alice, admin=admin)
    next_term(agreement)  # [2028-01-01, 2029-01-01)
    for _ in range(2):  # and again, from the cache
        staff = document_of(client_for(admin), "agreements:agreement_detail", agreement.pk)
        portal = document_of(client_for(alice), "portal:agreement_detail", agreement.pk)
        assert "Term 1: January 1, 2027 to December 31, 2027" in staff
        assert "Term 2: January 1, 2028 to December 31, 2028" in portal
        assert "Term 2" not in staff and "Term 1" not in portal


@time_machine.travel(NOW)
def test_a_draft_is_rendered_every_time(client_for, customer_a, documents, admin):
    draft = draft_with_all_services(customer=customer_a)
    client = client_for(admin)
    name = "agreements:agreement_detail"
    assert "Monthly Maintenance" in document_of(client, name, draft.agreement_id)

    draft.lines.filter(kind=ServiceKind.HOSTING).update(notes="Nightly off-site backups")

    assert "Nightly off-site backups" in document_of(client, name, draft.agreement_id)
    assert "(draft)" in document_of(client, name, draft.agreement_id)
    assert not documents._cache  # nothing kept (LocMemCache's own store)
