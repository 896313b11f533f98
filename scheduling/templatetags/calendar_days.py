"""The calendars' days as HTML, each worked out once in Python (``_month.html``, ``_days.html``):
a day of the month grid with its first visits and "+N more", the rows of a week's or day's
visits. Issue 14: the template printed them with a dozen tags and filters per visit and per
day, a quarter of the month page's cost; here each is one ``format_html``, which escapes what
it prints (customers' names, technicians') as the template did.

Both read what the including page gives (see the templates' comments): ``detail_url``,
``extra_query``, ``show_customer``, ``show_technician``; the month ``day_url``; the week and
day ``no_technician`` and ``hide_flag``.
"""

from django import template
from django.utils.html import format_html
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
        format_html(
            '<td class="{}" data-date="{}">\n<div class="calendar-day-number">'
            '<span class="calendar-weekday">{} </span>{}</div>',
            css,
            day.iso,
            day.weekday_month,
            day.date.day,
        )
    ]
    detail_url = context.get("detail_url")
    show_customer, show_technician = context.get("show_customer"), context.get("show_technician")
    parts += [
        _month_visit(visit, detail_url, show_customer, show_technician) for visit in day.visits
    ]
    if day.more:
        parts.append(
            format_html(
                '<a class="calendar-more" href="{}day={}{}">+{} more'
                '<span class="visually-hidden"> visits on {}</span></a>',
                context.get("day_url", ""),
                day.iso,
                context.get("extra_query", ""),
                day.more,
                day.month_day,
            )
        )
    parts.append(mark_safe("</td>"))  # noqa: S308 (a constant)
    return mark_safe("\n".join(parts))  # noqa: S308 (each part escaped by format_html)


def _month_visit(visit, detail_url, show_customer, show_technician) -> SafeString:
    """A visit's link in the month grid: its time, customer (or service) and technician's first
    name; the title says it all."""
    person = visit.technician
    title = f"{visit.customer} · {visit.service} · {visit.local_label}"
    if person:
        title += f" · {person}"
    first_name = f" · {(person.first_name if person else '') or 'unassigned'}"
    return format_html(
        '<a class="calendar-visit calendar-visit-{}{}" href="{}" title="{}">'
        ' <span class="calendar-time">{}</span> {}{}{} </a>',
        visit.status,
        " calendar-visit-flagged" if visit.flag else "",
        row_url(detail_url, visit.pk),
        title,
        f"{visit.local_start:%H:%M}",
        visit.customer if show_customer else visit.service,
        first_name if show_technician else "",
        " ✓" if visit.status == "completed" else "",
    )


@register.simple_tag(takes_context=True)
def day_rows(context, day) -> SafeString:
    """The table rows of a week's or day's visits (``calendars.Day.visits``): time and zone
    (a link to the visit), customer, service, technician, status."""
    detail_url = context.get("detail_url")
    show_customer, show_technician = context.get("show_customer"), context.get("show_technician")
    no_technician = context.get("no_technician") or "unassigned"
    hide_flag = context.get("hide_flag")
    row = (
        '<tr>\n<td class="calendar-time"><a href="{}">{}</a> '
        '<span class="small text-muted">{}</span></td>\n'
        + ("<td>{}</td>\n" if show_customer else "")
        + "<td>{}</td>\n"
        + ("<td>{}</td>\n" if show_technician else "")
        + "<td>{}</td>\n</tr>"
    )
    rows = []
    for visit in day.visits:
        cells = [row_url(detail_url, visit.pk), visit.local_times, visit.zone_abbr]
        if show_customer:
            cells.append(visit.customer)
        cells.append(visit.service)
        if show_technician:
            name = visit.technician.get_full_name() if visit.technician else ""
            cells.append(name or no_technician)
        cells.append(visit_badge(visit, hide_flag))
        rows.append(format_html(row, *cells))
    return mark_safe("\n".join(rows))  # noqa: S308 (each row escaped by format_html)
