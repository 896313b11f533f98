"""Content-Security-Policy: every page carries the strict policy, and no template brings back an
inline script, inline style or inline event handler that the policy would refuse."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from agreements.pdf import agreement_pdf
from agreements.tests.factories import draft_with_all_services
from allora.pdf import LocalOnlyFetcher
from allora.tests.authz import ROLES
from allora.tests.test_authorization import MATRIX, _kwargs, objects  # noqa: F401 -- a fixture
from billing.tests.factories import published_card

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# Not pages: emails (inline styles are how HTML email is styled) and the documents WeasyPrint
# renders to PDF, which no browser receives as HTML.
NOT_PAGES = {
    "emails",
    "agreements/document/pdf.html",
    "billing/invoice_pdf.html",
    "billing/statement_pdf.html",
    "billing/credit_note_pdf.html",
}

INLINE = {
    "an inline <script>": re.compile(
        r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE
    ),
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
    "a style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
    "an on… event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "an hx-on attribute (needs eval)": re.compile(r"\shx-on", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def inline_code(html):
    """What in ``html`` the policy would refuse, as short descriptions."""
    return [
        f"{what}: {match.group(0)[:80]!r}"
        for what, pattern in INLINE.items()
        for match in pattern.finditer(html)
    ]


def page_templates():
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if name.split("/")[0] not in NOT_PAGES and name not in NOT_PAGES:
            yield name


def test_the_policy_is_strict():
    policy = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["img-src"] == ["'self'", "data:"]  # drawn signatures are PNG data: URLs
    for directive in ("script-src", "style-src"):
        assert policy[directive] == ["'self'"]
    assert not hasattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY")


def test_the_inline_scan_finds_what_the_policy_refuses():
    found = inline_code(
        '<script>alert(1)</script><style>p{}</style><p style="color:red" onclick="x()">'
        '<div hx-on:click="x()"><a href="javascript:x()">'
    )
    assert len(found) == 6, found
    assert (
        inline_code(
            '<script src="/static/js/a.js"></script>'
            '<script type="application/json" id="d">{}</script>'
            '<p class="once" data-online="1">'
        )
        == []
    )


@pytest.mark.parametrize("name", list(page_templates()))
def test_page_templates_have_no_inline_script_or_style(name):
    assert inline_code((TEMPLATES / name).read_text()) == []


def test_every_page_carries_the_policy_and_no_inline_code(objects, client_for):  # noqa: F811
    people = {"anonymous": None, **{role: objects.get(role) for role in ROLES[1:]}}
    problems, checked = [], 0
    for name, (_, statuses) in sorted(MATRIX.items()):
        # The page as the first visitor who may see it; else as anonymous (the redirect or 4xx).
        role = next((r for r, code in zip(ROLES, statuses, strict=True) if code == 200), ROLES[0])
        response = client_for(people[role]).get(reverse(name, kwargs=_kwargs(name, objects)))
        policy = response.headers.get("Content-Security-Policy", "")
        if "default-src 'self'" not in policy or "script-src 'self'" not in policy:
            problems.append(f"{name}: no Content-Security-Policy header")
        if response.get("Content-Type", "").startswith("text/html") and response.status_code == 200:
            checked += 1
            problems += [f"{name} as {role}: {p}" for p in inline_code(response.content.decode())]
    assert problems == [], "\n".join(problems)
    assert checked > 50  # the HTML pages really were looked at


def test_not_found_and_error_pages_carry_the_policy_too(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_the_error_page_needs_no_context_and_links_its_stylesheet():
    html = render_to_string("500.html")
    assert 'rel="stylesheet"' in html
    assert inline_code(html) == []


def test_the_api_docs_pass_their_settings_as_json_data(client_for, staff):
    response = client_for(staff).get("/api/v1/docs")
    html = response.content.decode()
    assert '<script id="swagger-settings" type="application/json">' in html
    assert inline_code(html) == []
    assert "Content-Security-Policy" in response.headers


def test_the_agreement_pdf_still_gets_the_document_stylesheet(db, monkeypatch, caplog):
    """document.css moved from an inline <style> to static/css/: the PDF reads it from there."""
    published_card()
    fetched = []
    fetch = LocalOnlyFetcher.fetch
    monkeypatch.setattr(
        LocalOnlyFetcher,
        "fetch",
        lambda self, url, *a, **kw: fetched.append(url) or fetch(self, url, *a, **kw),
    )
    with caplog.at_level("WARNING", logger="weasyprint"):
        assert agreement_pdf(draft_with_all_services(), today=dt.date(2026, 6, 1)).startswith(
            b"%PDF"
        )
    assert [url for url in fetched if url.endswith("/static/css/document.css")]
    assert not [r for r in caplog.records if r.name.startswith("weasyprint")]


def test_admin_pages_have_no_inline_script_or_style(admin, client_for):
    """Third-party admin templates too (django-celery-beat's periodic task form had an inline
    script: templates/admin/djcelery/ overrides it)."""
    from django.contrib.admin import site

    admin.is_superuser = True
    admin.save()
    client = client_for(admin)
    problems = []
    for model in site._registry:
        for view in ("changelist", "add"):
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")
            response = client.get(url)
            if response.status_code == 200:
                problems += [f"{url}: {p}" for p in inline_code(response.content.decode())]
    assert problems == [], "\n".join(problems)
