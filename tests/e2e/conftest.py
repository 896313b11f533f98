"""Browser journeys: Playwright drives Debian's Chromium against Django's live server.

`playwright install` cannot download browsers here, so the tests use /usr/bin/chromium. Without
it they skip with the reason, except in CI (REQUIRE_BROWSER=1), where a missing browser fails.
"""

import os
import time
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
def second_factor_enforced(settings):
    """The journeys run as production does: staff and admins confirm a code after the password."""
    settings.OTP_REQUIRED_FOR_STAFF = True


def authenticator_code(user):
    """What the user's authenticator app shows now (an app set up with a secret made here).
    A code is accepted once: right after a use, the next 30-second step's code is due."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=True, defaults={"name": "Authenticator app"}
    )
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    step = max(totp.t(), device.last_t + 1)
    while step > totp.t() + 1:  # two sign-ins in one step: wait for the next
        time.sleep(1)
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = device.t0 + step * device.step
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def sign_in(page, live_server, second_factor_enforced):
    """Sign in through the real form; staff and admins then enter their authenticator code."""

    def sign_in_as(user, password="correct-horse-battery"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email address").fill(user.email)
        page.get_by_label("Password").fill(password)
        if user.is_allora_staff:
            code = authenticator_code(user)  # the app is set up before the password is sent
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        if user.is_allora_staff:
            page.get_by_label("Code from your authenticator app, or a recovery code").fill(code)
            page.get_by_role("button", name="Confirm").click()
            page.wait_for_load_state()

    return sign_in_as


@pytest.fixture
def sign_out(page):
    def sign_out_now():
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_load_state()

    return sign_out_now


AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_IMPACTS = ("serious", "critical")


def axe_violations(page):
    """The serious and critical axe-core violations on the page as it is now: one
    "rule (impact): selector" line per element. axe is evaluated through the DevTools protocol,
    which the page's Content-Security-Policy does not apply to, so no inline script is needed."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text())
    results = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
    )
    return [
        f"{rule['id']} ({rule['impact']}): {' '.join(map(str, node['target']))}"
        for rule in results
        if rule["impact"] in AXE_IMPACTS
        for node in rule["nodes"]
    ]


def assert_accessible(page):
    """Fails with every serious or critical axe-core violation on the page."""
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(violations)
