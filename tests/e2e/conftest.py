"""Browser journeys: Playwright drives Debian's Chromium against Django's live server.

`playwright install` cannot download browsers here, so the tests use /usr/bin/chromium. Without
it they skip with the reason, except in CI (REQUIRE_BROWSER=1), where a missing browser fails.
"""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run inside
# one unless told that the test knows what it is doing.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


CSP_VIOLATION = ("Content Security Policy", "Content-Security-Policy", "Refused to")


@pytest.fixture(autouse=True)
def no_csp_violation(request):
    """Fails a journey when the browser refuses anything under the Content-Security-Policy:
    Chromium reports each refused script, style or handler in the console. Yields the console
    messages seen so far."""
    if "page" not in request.fixturenames:
        yield []
        return
    page = request.getfixturevalue("page")
    refused = []

    def listen(tab):
        tab.on("console", lambda msg: refused.append(msg.text))
        tab.on("pageerror", lambda error: refused.append(str(error)))

    listen(page)
    page.context.on("page", listen)
    yield refused
    violations = [text for text in refused if any(mark in text for mark in CSP_VIOLATION)]
    if violations:
        pytest.fail("The Content-Security-Policy refused: " + "\n".join(violations))


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium is required in CI and {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": FLAGS}


@pytest.fixture
def sign_in(page, live_server):
    """Sign in through the real form."""

    def sign_in_as(user, password="correct-horse-battery"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email address").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()

    return sign_in_as


@pytest.fixture
def sign_out(page):
    def sign_out_now():
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_load_state()

    return sign_out_now
