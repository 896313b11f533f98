"""A technician's phone: the month calendar is a list of its days (nothing cut at 390 px), a busy
day shows three visits and "+7 more", which opens the day with all ten; the week and the
technician filter follow. On a desktop the days outside the month keep readable contrast."""

import pytest
from playwright.sync_api import expect

from allora.timeutils import local_today
from scheduling.tests.factories import make_term, visits_on

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def busy_day(customer_a, staff):
    """Ten visits of customer A today, the first two the technician's (staff)."""
    visits = visits_on(
        make_term(customer=customer_a, start=local_today().replace(day=1)), local_today(), 10
    )
    for visit in visits[:2]:
        visit.technician = staff
        visit.save()
    return visits


def test_on_a_phone_the_month_is_a_list_and_a_busy_day_opens_whole(
    page, live_server, sign_in, staff, busy_day
):
    page.set_viewport_size(PHONE)
    sign_in(staff)
    page.goto(f"{live_server.url}/schedule/")

    expect(page.get_by_role("heading", name=local_today().strftime("%B %Y"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    today = page.locator(f'td[data-date="{local_today().isoformat()}"]')
    expect(today.locator(".calendar-visit")).to_have_count(3)
    box = today.bounding_box()
    assert box and box["width"] > PHONE["width"] * 0.8  # a row of the list, not a seventh

    today.get_by_role("link", name="+7 more").click()
    expect(
        page.get_by_role("heading", name=local_today().strftime("%A, %B %-d, %Y"))
    ).to_be_visible()
    expect(page.locator("table.calendar-day tbody tr")).to_have_count(10)

    page.get_by_role("link", name="Week").click()
    expect(page.get_by_text("10 visits")).to_be_visible()
    page.get_by_label("Technician").select_option(str(staff.pk))
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("2 visits")).to_be_visible()
    expect(page.locator("table.calendar-day tbody tr")).to_have_count(2)


# The WCAG contrast ratio of a day number's colour against its cell's background (what axe checks).
CONTRAST = """cell => {
  const rgb = text => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = ([r, g, b]) => [r, g, b]
    .map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const number = cell.querySelector(".calendar-day-number");
  const fg = luminance(rgb(getComputedStyle(number).color));
  const bg = luminance(rgb(getComputedStyle(cell).backgroundColor));
  return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}"""


def test_days_outside_the_month_keep_readable_contrast(page, live_server, sign_in, staff):
    sign_in(staff)
    page.goto(f"{live_server.url}/schedule/?month=2027-03")  # Feb 28 and Apr 1-3 are shown too
    outside = page.locator('td[data-date="2027-04-01"]')
    expect(outside).to_have_class("calendar-other-month calendar-empty")
    assert outside.evaluate(CONTRAST) >= 4.5
