"""The calendars' days as HTML, each worked out once in Python (``_month.html``, ``_days.html``):
a day of the month grid with its first visits and "+N more", the rows of a week's or day's
visits. Issue 14: the template printed them with a dozen tags and filters per visit and per
day, a quarter of the month page's cost.

Every value that is not the page's own (customers' and technicians' names, services, statuses,
URLs) goes through ``escape``: the standard library's, which Django's ``escape`` wraps (the same
text, without the wrapper's check for lazy strings: a month printed 360 of them, half of its
rendering). The dates, day numbers and class names are the page's own.

Both read what the including page gives (see the templates' comments): ``detail_url``,
``extra_query``, ``show_customer``, ``show_technician``; the month ``day_url``; the week and
day ``no_technician`` and ``hide_flag``.
"""

from html import escape

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from allora.templatetags.listing import row_url, visit_badge

register = template.Library()


@register.simple_tag(takes_context=True)
def month_day(context, day) -> SafeString:
    """One day of the month grid (``calendars.Day``): a ``<td>`` with its number, a link to
    each of its first visits and, past them, "+N more" to the day's page."""
    css = (
        ("" if day.in_month else "calendar-other-month")
        + (" calendar-today" if day.is_today else "")
        + ("" if day.count else " calendar-empty")
    )
    parts = [
        f'<td class="{css}" data-date="{day.iso}">\n<div class="calendar-day-number">'
        f'<span class="calendar-weekday">{day.weekday_month} </span>{day.date.day}</div>'
    ]
    detail_url = context.get("detail_url")
    show_customer, show_technician = context.get("show_customer"), context.get("show_technician")
    parts += [
        _month_visit(visit, detail_url, show_customer, show_technician) for visit in day.visits
    ]
    if day.more:
        # The including page's own: safe when written in its template, escaped otherwise.
        day_url = conditional_escape(context.get("day_url", ""))
        extra_query = conditional_escape(context.get("extra_query", ""))
        parts.append(
            f'<a class="calendar-more" href="{day_url}day={day.iso}{extra_query}">+{day.more} '
            f'more<span class="visually-hidden"> visits on {day.month_day}</span></a>'
        )
    parts.append("</td>")
    return mark_safe("\n".join(parts))  # noqa: S308 (every value escaped above)


def _month_visit(visit, detail_url, show_customer, show_technician) -> str:
    """A visit's link in the month grid: its time, customer (or service) and technician's first
    name; the title says it all."""
    person = visit.technician
    title = f"{visit.customer} · {visit.service} · {visit.local_label}"
    if person:
        title += f" · {person}"
    label = f"{visit.customer if show_customer else visit.service}"
    if show_technician:
        label += f" · {(person.first_name if person else '') or 'unassigned'}"
    flagged = " calendar-visit-flagged" if visit.flag else ""
    done = " ✓" if visit.status == "completed" else ""
    return (
        f'<a class="calendar-visit calendar-visit-{escape(visit.status)}{flagged}" '
        f'href="{escape(row_url(detail_url, visit.pk))}" title="{escape(title)}"> '
        f'<span class="calendar-time">{visit.local_start:%H:%M}</span> {escape(label)}{done} </a>'
    )


@register.simple_tag(takes_context=True)
def day_rows(context, day) -> SafeString:
    """The table rows of a week's or day's visits (``calendars.Day.visits``): time and zone
    (a link to the visit), customer, service, technician, status."""
    detail_url = context.get("detail_url")
    show_customer, show_technician = context.get("show_customer"), context.get("show_technician")
    no_technician = context.get("no_technician") or "unassigned"
    hide_flag = context.get("hide_flag")
    rows = []
    for visit in day.visits:
        cells = [
            f'<td class="calendar-time"><a href="{escape(row_url(detail_url, visit.pk))}">'
            f'{visit.local_times}</a> <span class="small text-muted">{escape(visit.zone_abbr)}'
            "</span></td>"
        ]
        if show_customer:
            cells.append(f"<td>{escape(visit.customer)}</td>")
        cells.append(f"<td>{escape(str(visit.service))}</td>")
        if show_technician:
            name = visit.technician.get_full_name() if visit.technician else ""
            cells.append(f"<td>{conditional_escape(name or no_technician)}</td>")
        cells.append(f"<td>{visit_badge(visit, hide_flag)}</td>")
        rows.append("<tr>\n" + "\n".join(cells) + "\n</tr>")
    return mark_safe("\n".join(rows))  # noqa: S308 (every value escaped above)
