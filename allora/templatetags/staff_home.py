"""The staff home's two biggest tables, written at once: the renewals in the next 90 days (25
rows) and the technicians' utilization (eight weeks each). Their template loops, one filter per
cell, were half of rendering the page (issue 14); each tag prints what the loop printed, every
value escaped as Django's ``escape`` does (``html.escape``, which it wraps)."""

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from .listing import _date_names, get_language, hours, row_url, short_date

register = template.Library()

NO_RENEWALS = '<tr><td colspan="3" class="text-muted">No renewals in the next 90 days.</td></tr>'
PASSED = ' <span class="badge text-bg-secondary">passed</span>'


@register.simple_tag
def renewal_rows(renewals) -> SafeString:
    """The rows of "Renewals in the next 90 days" (`allora.dashboard.renewals`), or the line
    that says there are none."""
    if not renewals:
        return mark_safe(NO_RENEWALS)  # noqa: S308 - our own text
    rows = []
    for row in renewals:
        agreement = row["agreement"]
        url = row_url("agreements:agreement_detail", agreement.pk)
        passed = PASSED if row["notice_passed"] else ""
        rows.append(
            f'<tr><td><a href="{url}">{escape(agreement.number)}</a>'
            f'<div class="small text-muted">{escape(str(agreement.customer))}</div></td>'
            f"<td>{short_date(row['last_day'])}</td>"
            f"<td>{short_date(row['notice_deadline'])}{passed}</td></tr>\n    "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above escaped


@register.simple_tag
def utilization_head(utilization) -> SafeString:
    """The header cells of the utilization table: each week's Monday, this week's marked."""
    months, _ = _date_names(get_language())
    current = utilization["current"]
    return mark_safe(  # noqa: S308 - dates and our own class names only
        "".join(
            f'<th class="{"table-primary" if week == current else ""}">'
            f"{months[week.month]} {week.day}</th>"
            for week in utilization["weeks"]
        )
    )


@register.simple_tag
def utilization_rows(utilization) -> SafeString:
    """The utilization table's rows: per technician, hours scheduled / logged per week."""
    if not utilization["rows"]:
        return mark_safe('<tr><td class="text-muted">No technicians yet.</td></tr>')
    return mark_safe(  # noqa: S308 - the names escaped, the rest numbers
        "".join(
            f"<tr><td>{escape(str(row['technician']))}</td>"
            + "".join(
                f"<td>{hours(cell['scheduled'])} / {hours(cell['logged'])}</td>"
                for cell in row["weeks"]
            )
            + "</tr>\n  "
            for row in utilization["rows"]
        )
    )
