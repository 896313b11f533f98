"""The staff home's renewals and utilization tables, written by tags (allora/templatetags/
staff_home.py) instead of template loops: for any rows, markup in names included, they print
exactly what the loops printed."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

# The template's loops as they were.
RENEWALS_BEFORE = (
    '{% load listing %}{% for row in renewals %}<tr><td><a href="{% row_url '
    "'agreements:agreement_detail' row.agreement.pk %}\">{{ row.agreement.number }}</a><div "
    'class="small text-muted">{{ row.agreement.customer }}</div></td><td>{{ row.last_day|'
    "short_date }}</td><td>{{ row.notice_deadline|short_date }}{% if row.notice_passed %} <span "
    'class="badge text-bg-secondary">passed</span>{% endif %}</td></tr>\n    {% empty %}<tr><td '
    'colspan="3" class="text-muted">No renewals in the next 90 days.</td></tr>{% endfor %}'
)
UTILIZATION_BEFORE = (
    '{% load listing %}<tr><th>Technician</th>{% for week in utilization.weeks %}<th class="{% '
    'if week == utilization.current %}table-primary{% endif %}">{{ week|date:"M j" }}</th>{% '
    "endfor %}</tr>|{% for row in utilization.rows %}<tr><td>{{ row.technician }}</td>{% for cell "
    "in row.weeks %}<td>{{ cell.scheduled|hours }} / {{ cell.logged|hours }}</td>{% endfor %}"
    '</tr>\n  {% empty %}<tr><td class="text-muted">No technicians yet.</td></tr>{% endfor %}'
)
RENEWALS_NOW = "{% load staff_home %}{% renewal_rows renewals %}"
UTILIZATION_NOW = (
    "{% load staff_home %}<tr><th>Technician</th>{% utilization_head utilization %}</tr>|"
    "{% utilization_rows utilization %}"
)

NAMES = st.text(alphabet=st.sampled_from("Aé &<>\"'ß—x"), min_size=1, max_size=20)
DAYS = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31))
HOURS = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False)


def render(source, **context):
    return Template(source).render(Context(context))


@st.composite
def renewals(draw):
    rows = []
    for pk in draw(st.lists(st.integers(min_value=1, max_value=10**9), max_size=6, unique=True)):
        customer = draw(NAMES)
        agreement = SimpleNamespace(pk=pk, number=draw(NAMES), customer=customer)
        rows.append(
            {
                "agreement": agreement,
                "last_day": draw(DAYS),
                "notice_deadline": draw(DAYS),
                "notice_passed": draw(st.booleans()),
            }
        )
    return rows


@st.composite
def utilizations(draw):
    first = draw(DAYS)
    weeks = [first + dt.timedelta(weeks=n) for n in range(draw(st.integers(1, 8)))]
    cells = st.fixed_dictionaries({"scheduled": HOURS, "logged": HOURS})
    return {
        "weeks": weeks,
        "current": draw(st.sampled_from(weeks)),
        "rows": [
            {"technician": name, "weeks": draw(st.lists(cells, min_size=len(weeks), max_size=8))}
            for name in draw(st.lists(NAMES, max_size=4))
        ],
    }


@given(renewals())
def test_renewal_rows_are_what_the_loop_printed(rows):
    assert render(RENEWALS_NOW, renewals=rows) == render(RENEWALS_BEFORE, renewals=rows)


@given(utilizations())
def test_utilization_is_what_the_loops_printed(utilization):
    now = render(UTILIZATION_NOW, utilization=utilization)
    assert now == render(UTILIZATION_BEFORE, utilization=utilization)


def test_names_are_escaped_and_the_empty_tables_say_so():
    agreement = SimpleNamespace(pk=7, number="CA-<1>", customer="Tom & Jerry's <b>")
    row = {
        "agreement": agreement,
        "last_day": dt.date(2027, 2, 28),
        "notice_deadline": dt.date(2027, 1, 29),
        "notice_passed": True,
    }
    html = render(RENEWALS_NOW, renewals=[row])
    assert "Tom &amp; Jerry&#x27;s &lt;b&gt;" in html and "CA-&lt;1&gt;" in html
    assert "Feb 28, 2027" in html and ">passed</span>" in html
    assert "No renewals in the next 90 days." in render(RENEWALS_NOW, renewals=[])

    week = dt.date(2027, 3, 1)
    cell = {"scheduled": Decimal("12.5"), "logged": Decimal("0")}
    utilization = {
        "weeks": [week],
        "current": week,
        "rows": [{"technician": "<i>", "weeks": [cell]}],
    }
    html = render(UTILIZATION_NOW, utilization=utilization)
    assert '<th class="table-primary">Mar 1</th>' in html
    assert "<td>&lt;i&gt;</td><td>12.5 / 0</td>" in html
    empty = render(UTILIZATION_NOW, utilization={**utilization, "rows": []})
    assert "No technicians yet." in empty
