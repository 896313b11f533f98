"""Under the Content-Security-Policy the scripted pages still work: the staff home's charts draw,
the API docs (Swagger UI) load and list the operations, and the token field selects itself. The
autouse fixture in conftest.py fails the journey if the browser refuses anything."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_charts_api_docs_and_profile_work_under_the_policy(page, live_server, sign_in, staff):
    sign_in(staff)
    response = page.goto(f"{live_server.url}/staff/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Chart.js draws on the canvas: its chart object is attached to the element.
    page.wait_for_function(
        "() => Chart.getChart(document.getElementById('mrr-chart')) !== undefined"
    )

    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Allora Customer Agreements API"
    )
    # "Try it out" on GET /me: Swagger UI fetches from the site (connect-src 'self').
    me = page.locator(".opblock-get", has=page.locator("[data-path='/api/v1/me']"))
    me.locator(".opblock-summary").click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    expect(me.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(me.locator(".live-responses-table")).to_contain_text(staff.email)

    page.goto(f"{live_server.url}/accounts/profile/")
    page.get_by_label("Token name").fill("RMM sync")
    page.get_by_role("button", name="Create a token").click()
    token = page.get_by_label("New API token")
    token.focus()
    selected = page.evaluate(
        "() => { const f = document.activeElement;"
        " return f.value.slice(f.selectionStart, f.selectionEnd); }"
    )
    assert selected == token.input_value() != ""


def test_the_policy_watch_catches_a_refused_inline_script(page, live_server, no_csp_violation):
    """The fixture's own check: an inline script the page adds is refused and reported."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.append(s); }"
    )
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.ran") is None
    assert any("Content Security Policy" in text for text in no_csp_violation), no_csp_violation
    no_csp_violation.clear()  # expected here: the journey itself passes


def test_the_admin_periodic_task_form_works_under_the_policy(page, live_server, sign_in, admin):
    from django_celery_beat.models import CrontabSchedule

    admin.is_superuser = True
    admin.save()
    CrontabSchedule.objects.create(minute="30", hour="6", timezone="America/New_York")
    sign_in(admin)
    page.goto(f"{live_server.url}/admin/django_celery_beat/periodictask/add/")
    page.locator("#id_crontab").select_option(index=1)
    expect(page.locator(".field-crontab .help")).to_contain_text("Translation: At 06:30")
    expect(page.locator(".field-crontab_translation")).to_be_hidden()
