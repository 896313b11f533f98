"""The staff lists' sortable column headers and their "Export CSV" link (``allora/sorting.py``,
``allora/spreadsheet.py``). Both keep the list's other query parameters (its filters); a new
order starts again at page 1, and the export has no page: it is the whole filtered list."""

from django import template
from django.urls import reverse
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.text import capfirst

register = template.Library()

ARIA = {False: "ascending", True: "descending"}
ARROW = {False: "▲", True: "▼"}


# An agreement status's badge colour (Bootstrap's text-bg-*); any other status is "dark".
AGREEMENT_BADGES = {
    "active": "success",
    "draft": "secondary",
    "sent": "warning",
    "customer_signed": "warning",
    "ending": "info",
}


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


@register.simple_tag
def agreement_badge(agreement):
    """The agreement's status as a coloured badge (a tag, not an include: a list shows 25)."""
    colour = AGREEMENT_BADGES.get(agreement.status, "dark")
    return format_html(
        '<span class="badge text-bg-{}">{}</span>', colour, agreement.get_status_display()
    )


@register.filter
def short_date(day):
    """``day`` as "Nov 3, 2026": what ``|date:"M j, Y"`` prints, without its general format
    parser (a list page prints 75 dates; the filter was a quarter of its rendering)."""
    if not day:
        return ""
    return f"{capfirst(MONTHS_3[day.month])} {day.day}, {day.year}"
