"""The list pages' cheap row helpers (allora/templatetags/listing.py) print exactly what the
template code they replace printed: ``|date:"M j, Y"``, a Decimal's default rendering and the
agreement status badge."""

import datetime as dt
from decimal import Decimal

from django.template import Context, Template
from django.urls import reverse, set_script_prefix
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from agreements.models import Agreement
from allora.templatetags.listing import hours, row_url, short_date
from allora.tests.languages import translations_on
from billing.models import Invoice
from scheduling.models import Visit

BADGE_PARTIAL_BEFORE = (
    "<span class=\"badge text-bg-{% if status == 'active' %}success{% elif status == 'draft' %}"
    "secondary{% elif status == 'sent' or status == 'customer_signed' %}warning"
    "{% elif status == 'ending' %}info{% else %}dark{% endif %}\">{{ label }}</span>"
)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)))
def test_short_date_prints_what_the_date_filter_printed(day):
    expected = Template('{{ day|date:"M j, Y" }}').render(Context({"day": day}))
    assert short_date(day) == expected


def test_short_date_of_nothing_is_empty_like_the_date_filter():
    assert short_date(None) == "" == Template('{{ day|date:"M j, Y" }}').render(Context({}))


def test_the_badge_tag_prints_what_the_partial_printed_for_every_status():
    for status, label in Agreement.Status.choices:
        agreement = Agreement(status=status)
        before = Template(BADGE_PARTIAL_BEFORE).render(Context({"status": status, "label": label}))
        after = Template("{% load listing %}{% agreement_badge agreement %}").render(
            Context({"agreement": agreement})
        )
        assert after == before, status


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)))
def test_short_date_with_the_weekday_prints_what_the_date_filter_printed(day):
    expected = Template('{{ day|date:"D M j, Y" }}').render(Context({"day": day}))
    assert short_date(day, "weekday") == expected


def test_short_date_follows_the_active_language_like_the_date_filter():
    day = dt.date(2027, 2, 3)
    template = Template('{{ day|date:"D M j, Y" }}')
    with translations_on():
        for language in ("en-us", "fr", "de", "en-us"):  # translated once per language, kept
            with translation.override(language):
                assert short_date(day, "weekday") == template.render(Context({"day": day}))
        with translation.override("fr"):
            assert short_date(day) != "Feb 3, 2027"


INVOICE_PARTIAL_BEFORE = (
    "<span class=\"badge text-bg-{% if invoice.status == 'paid' %}success{% elif invoice.status "
    "== 'overdue' %}danger{% elif invoice.status == 'void' %}dark{% else %}primary{% endif %}\">"
    "{{ invoice.get_status_display }}</span>"
)
VISIT_PARTIAL_BEFORE = (
    "<span class=\"badge text-bg-{% if visit.status == 'completed' %}success{% elif visit.status "
    "== 'cancelled' %}secondary{% elif visit.status == 'moved' %}info{% else %}primary{% endif %}"
    '">{{ visit.get_status_display }}</span>{% if visit.flag and not hide_flag %} <span '
    'class="badge text-bg-warning">{{ visit.get_flag_display }}</span>{% endif %}'
)


def test_the_invoice_and_visit_badges_print_what_their_partials_printed():
    for status, _ in Invoice.Status.choices:
        context = {"invoice": Invoice(status=status)}
        before = Template(INVOICE_PARTIAL_BEFORE).render(Context(context))
        after = Template('{% include "billing/_invoice_status.html" %}').render(Context(context))
        assert after == before + "\n", status
    for status, _ in Visit.Status.choices:
        for flag in ("", *Visit.Flag.values):
            for hide_flag in (None, True):
                context = {"visit": Visit(status=status, flag=flag), "hide_flag": hide_flag}
                before = Template(VISIT_PARTIAL_BEFORE).render(Context(context))
                partial = '{% include "scheduling/_visit_status.html" %}'
                after = Template(partial).render(Context(context))
                assert after == before + "\n", (status, flag, hide_flag)


ROW_PAGES = (
    "agreements:agreement_detail",
    "agreements:customer_detail",
    "agreements:renewal_review",
    "billing:invoice_detail",
    "scheduling:visit_detail",
)


@settings(deadline=None)  # the first example loads the URLconf
@given(st.integers(min_value=1, max_value=2**63 - 1), st.sampled_from(["/", "/allora/"]))
def test_row_url_is_the_url_tag_with_the_row_id_under_any_script_prefix(pk, prefix):
    set_script_prefix(prefix)
    try:
        for name in ROW_PAGES:
            assert row_url(name, pk) == reverse(name, args=[pk])
            assert row_url(name, str(pk)) == reverse(name, args=[pk])
    finally:
        set_script_prefix("/")


@given(
    st.decimals(min_value=-(10**7), max_value=10**7, places=1, allow_nan=False)
    | st.decimals(min_value=0, max_value=10**4, places=3, allow_nan=False),
    st.sampled_from(["en-us", "de", "fr"]),
)
def test_hours_prints_what_the_default_rendering_of_a_decimal_printed(number, language):
    with translations_on(), translation.override(language):
        expected = Template("{{ number }}").render(Context({"number": number}))
        assert hours(number) == expected


def test_hours_keep_their_stored_precision():
    assert [hours(Decimal(text)) for text in ("0.0", "12.5", "1234.0")] == [
        "0.0",
        "12.5",
        "1234.0",
    ]
