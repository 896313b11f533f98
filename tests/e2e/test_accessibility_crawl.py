"""Every page of the app, for every role, at desktop and phone width, has no serious or critical
axe-core violation. The crawl starts at the role's home on the demo business, follows the
same-origin links it finds (GET only; sign-out, downloads, feeds, the Django admin and the API
docs aside), visits each kind of page once (numbers in the path are ids) and runs axe-core on it.

Set AXE_SCREENSHOTS=/tmp/axe-shots to keep a full-page screenshot of every page visited."""

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import call_command

from allora.models import Role, User
from demo.people import DEMO_PASSWORD
from tests.e2e.conftest import axe_violations

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
MAX_PAGES = 80
SKIP = re.compile(
    r"/accounts/logout|/admin/|/api/|/static/|/media/|\.(pdf|csv|ics|png|jpg|svg|zip)$"
    r"|/pdf/?$|/csv/?$|/export|/download|/feed|\.ics|/calendar\.ics",
    re.IGNORECASE,
)
# Query keys that only sort, page or search a list: the page kind stays the same.
SAME_PAGE_KEYS = {"sort", "order", "page", "q", "dir"}


def page_kind(url):
    """The path with its ids replaced, and the query's keys that change what the page shows."""
    parts = urlsplit(url)
    keys = sorted({key for key, _ in parse_qsl(parts.query)} - SAME_PAGE_KEYS)
    return re.sub(r"\d+", "N", parts.path) + ("?" + "&".join(keys) if keys else "")


def crawl(page, start, *, shots=None):
    """Visits up to MAX_PAGES kinds of page from `start`; returns {url: [problems]}."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(start))
    queue, seen, problems, visited = [start], set(), {}, 0
    while queue and visited < MAX_PAGES:
        url = queue.pop(0)
        if page_kind(url) in seen:
            continue
        seen.add(page_kind(url))
        response = page.goto(url)
        page.wait_for_load_state()
        seen.add(page_kind(page.url))  # where a redirect led
        visited += 1
        found = [] if response.ok else [f"HTTP {response.status}"]
        found += axe_violations(page) + wider_than_the_screen(page)
        if found:
            problems[page.url] = found
        if shots:
            name = re.sub(r"[^A-Za-z0-9]+", "-", page_kind(page.url)).strip("-") or "home"
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        for href in page.eval_on_selector_all(
            "a[href]:not([download])", "links => links.map(a => a.href)"
        ):
            href = href.split("#")[0]
            same_site = href.startswith(origin) and not SKIP.search(urlsplit(href).path)
            if same_site and page_kind(href) not in seen:
                queue.append(href)
    left = sorted({page_kind(url) for url in queue} - seen)
    if left and os.environ.get("AXE_SCREENSHOTS"):
        print("Not visited:", left)
    return problems, visited


WIDEST = """() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width) return [];
    const clipped = el => {
        for (let up = el.parentElement; up && up !== document.body; up = up.parentElement)
            if (getComputedStyle(up).overflowX !== "visible") return true;
        return false;
    };
    return [...document.querySelectorAll("body *")]
        .filter(el => el.getBoundingClientRect().right > width + 1 && !clipped(el))
        .filter(el => el.parentElement.getBoundingClientRect().right <= width + 1)
        .slice(0, 3)
        .map(el => el.tagName.toLowerCase() + [...el.classList].map(c => "." + c).join(""))
        .concat([`scrollWidth ${document.documentElement.scrollWidth}`]);
}"""


def wider_than_the_screen(page):
    """A page that scrolls sideways (a phone's width): the elements that stick out."""
    return [f"wider than the screen: {element}" for element in page.evaluate(WIDEST)]


def demo_user(role):
    if role == "admin":
        return User.objects.get(email="admin@allora.example")
    if role == "staff":
        return User.objects.get(email="marcus@allora.example")
    return User.objects.filter(role=Role.CUSTOMER, password__startswith="md5").order_by("email")[0]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("role", ["admin", "staff", "customer"])
def test_every_page_has_no_serious_accessibility_violation(page, live_server, sign_in, role, width):
    with open(os.devnull, "w") as devnull:
        call_command("seed_demo", stdout=devnull)
    page.set_viewport_size(WIDTHS[width])
    sign_in(demo_user(role), password=DEMO_PASSWORD)
    shots = None
    if os.environ.get("AXE_SCREENSHOTS"):
        shots = Path(os.environ["AXE_SCREENSHOTS"]) / f"{role}-{width}"
        shots.mkdir(parents=True, exist_ok=True)

    problems, visited = crawl(page, page.url, shots=shots)

    assert visited >= 5, f"the crawl found only {visited} pages"
    report = "\n".join(f"{url}\n  " + "\n  ".join(found) for url, found in sorted(problems.items()))
    count = sum(len(found) for found in problems.values())
    assert not problems, f"{count} problems on {len(problems)} of {visited} pages:\n{report}"


def test_the_check_sees_a_serious_violation(page):
    """The crawl's check is live: an image without a text alternative is a critical violation."""
    page.set_content('<html lang="en"><title>t</title><main><img src="x.png"></main></html>')
    assert [line.split(":")[0] for line in axe_violations(page)] == ["image-alt (critical)"]
