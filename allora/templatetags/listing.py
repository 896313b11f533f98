"""The staff lists' sortable column headers and their "Export CSV" link (``allora/sorting.py``,
``allora/spreadsheet.py``). Both keep the list's other query parameters (its filters); a new
order starts again at page 1, and the export has no page: it is the whole filtered list."""

from functools import lru_cache

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.formats import get_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import get_language

register = template.Library()

ARIA = {False: "ascending", True: "descending"}
ARROW = {False: "▲", True: "▼"}


# A status's badge colour (Bootstrap's text-bg-*), and the colour of any other status.
AGREEMENT_BADGES = (
    {
        "active": "success",
        "draft": "secondary",
        "sent": "warning",
        "customer_signed": "warning",
        "ending": "info",
    },
    "dark",
)
INVOICE_BADGES = {"paid": "success", "overdue": "danger", "void": "dark"}, "primary"
VISIT_BADGES = {"completed": "success", "cancelled": "secondary", "moved": "info"}, "primary"


def _query(request, **changes) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    for key, value in changes.items():
        params[key] = value
    return params.urlencode()


@register.simple_tag(takes_context=True)
def sort_header(context, sort, key, label, css=""):
    """A ``<th>`` whose link orders the list by ``key`` (ascending first, then the other way),
    marked with ``aria-sort`` and an arrow when the list is in that order."""
    css = f"sortable {css}".strip()
    current = sort.key == key
    descending = not sort.descending if current else False
    href = "?" + _query(context["request"], sort=f"-{key}" if descending else key)
    if not current:
        return format_html('<th scope="col" class="{}"><a href="{}">{}</a></th>', css, href, label)
    return format_html(
        '<th scope="col" class="{}" aria-sort="{}"><a href="{}">{} '
        '<span aria-hidden="true">{}</span></a></th>',
        css,
        ARIA[sort.descending],
        href,
        label,
        ARROW[sort.descending],
    )


@register.simple_tag(takes_context=True)
def export_link(context, url_name):
    """The list's "Export CSV" link: the export URL with the list's filters and order."""
    query = _query(context["request"])
    href = reverse(url_name) + (f"?{query}" if query else "")
    return format_html(
        '<a class="btn btn-outline-secondary" href="{}" download>Export CSV</a>', href
    )


@register.simple_tag
def sort_field(sort):
    """A hidden field that keeps the list's order when its filter form is submitted."""
    if sort.is_default:
        return ""
    return format_html('<input type="hidden" name="sort" value="{}">', sort.param)


def _badge(obj, badges, label=None):
    colours, other = badges
    label = obj.get_status_display() if label is None else label
    return _badge_html(colours.get(obj.status, other), str(label))


@lru_cache(maxsize=256)
def _badge_html(colour, label):
    # A list shows the same few badges 25 to 50 times: each is escaped and marked safe once.
    return format_html('<span class="badge text-bg-{}">{}</span>', colour, label)


# The status badges are tags, not includes: a list shows 25 to 50 of them, and an include with
# its chain of {% if %} was a fifth of rendering such a page.
@register.simple_tag
def agreement_badge(agreement):
    """The agreement's status as a coloured badge."""
    return _badge(agreement, AGREEMENT_BADGES)


@register.simple_tag
def invoice_badge(invoice):
    """The invoice's status as a coloured badge."""
    return _badge(invoice, INVOICE_BADGES)


@register.simple_tag
def visit_badge(visit, hide_flag=False):
    """The visit's status as a coloured badge, then its flag (a clash, a holiday…) unless
    ``hide_flag`` (customers do not see the flags)."""
    badge = _badge(visit, VISIT_BADGES)
    if not visit.flag or hide_flag:
        return badge
    return format_html(
        '{} <span class="badge text-bg-warning">{}</span>', badge, visit.get_flag_display()
    )


@lru_cache(maxsize=8)
def _date_names(language) -> tuple[dict, dict]:
    """The months' and weekdays' abbreviations in ``language``, translated once (each lazy name
    went through gettext for every date printed)."""
    months = {number: capfirst(str(name)) for number, name in MONTHS_3.items()}
    return months, {number: str(name) for number, name in WEEKDAYS_ABBR.items()}


@register.filter
def short_date(day, weekday=False):
    """``day`` as "Nov 3, 2026" (``|short_date:"weekday"``: "Tue Nov 3, 2026"): what
    ``|date:"M j, Y"`` (``"D M j, Y"``) prints, without its general format parser (a list page
    prints 50 to 75 dates; the filter was a quarter of its rendering)."""
    if not day:
        return ""
    months, weekdays = _date_names(get_language())
    text = f"{months[day.month]} {day.day}, {day.year}"
    return f"{weekdays[day.weekday()]} {text}" if weekday else text


@lru_cache(maxsize=8)
def _decimal_separator(language) -> str:
    return get_format("DECIMAL_SEPARATOR", language)


@register.filter
def hours(number):
    """A Decimal (hours, e.g. 12.5) as ``{{ number }}`` prints it, without the general number
    formatter behind it (the staff home's utilization table prints 16 a technician; the
    formatter was two thirds of rendering the table). No thousands separators, as the
    project's settings print none."""
    return format(number, "f").replace(".", _decimal_separator(get_language()))


# Any id: it stands for the row's in the pattern reversed once (an int, for <int:pk>).
_ROW_ID = 987654321


@lru_cache(maxsize=64)
def _row_url_pattern(url_name, script_prefix):
    return reverse(url_name, args=[_ROW_ID]).replace(str(_ROW_ID), "{}", 1)


@register.simple_tag
def row_url(url_name, pk):
    """``{% url url_name pk %}`` for a list's rows: the URL is reversed once per name and the
    row's id put in (``reverse`` was a fifth of rendering the 50 rows of the visit list)."""
    return _row_url_pattern(url_name, get_script_prefix()).format(int(pk))
