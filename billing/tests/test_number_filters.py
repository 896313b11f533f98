"""The agreement pages' billing filters write what Django's own rendering wrote, only faster:
`decimals` what ``floatformat`` writes (the agreement document, its PDF included, must not change
by a character), `rate_items` what a template loop over the locked rates wrote."""

import itertools
from decimal import Decimal as D

import pytest
from django.template import Context, Template
from django.template.defaultfilters import floatformat
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from allora.tests.languages import translations_on
from billing.templatetags.billing import decimals, rate_items

VALUES = [
    *(D(text) for text in ("0", "0.00", "-0.00", "-0.001", "0.005", "0.015", "0.125", "2.5")),
    *(D(text) for text in ("1.50", "12.345", "-12.345", "999.995", "1234.5", "-1234.56")),
    *(D(text) for text in ("1000000", "1E+3", "1.23456789", "12.25", "33.333333", "100.00")),
    *(0, 7, -7, 1234, 1234567),
]
ARGS: list[int | str] = [-1, "-1", "2g", "2", "-2", "-2g", "g", 0, "0", 3, "3g", "1", "x"]


@pytest.mark.parametrize("language", ["en-us", "en"])
def test_decimals_is_floatformat_for_every_amount_and_argument(language):
    with translation.override(language):
        for value, arg in itertools.product(VALUES, ARGS):
            assert decimals(value, arg) == floatformat(value, arg), (value, arg)
        assert decimals(D("1234.5")) == "1234.5" and decimals(D("1234.5"), "2g") == "1,234.50"


@pytest.mark.parametrize("value", [1.005, "12.5", None, "", D("NaN"), D("Infinity")])
def test_other_values_are_left_to_floatformat(value):
    for arg in ARGS:
        assert decimals(value, arg) == floatformat(value, arg)


def test_another_language_is_left_to_floatformat():
    with translations_on(), translation.override("de"):
        assert decimals(D("1234.5"), "2g") == floatformat(D("1234.5"), "2g") == "1.234,50"


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False)
    | st.decimals(min_value=-(10**4), max_value=10**4, places=4, allow_nan=False)
    | st.integers(min_value=-(10**9), max_value=10**9),
    st.sampled_from(ARGS),
)
def test_decimals_is_floatformat_for_any_amount(value, arg):
    with translation.override("en-us"):
        assert decimals(value, arg) == floatformat(value, arg)


def test_rate_items_are_the_list_the_template_loop_wrote():
    rates = [
        {"name": "On-site support", "unit": "hour", "price": "140.00"},
        {"name": "Tom & Jerry's <b>", "unit": "month", "price": D("1234.50")},
        {"name": "Old", "price": 6},
        {"name": None, "unit": "hour", "price": 2.5},
    ]
    loop = Template(
        "{% for rate in rates %}<li>{{ rate.name }}: ${{ rate.price }}/{{ rate.unit }}</li>"
        "{% endfor %}"
    )
    assert rate_items(rates) == loop.render(Context({"rates": rates}))
    assert "<li>Tom &amp; Jerry&#x27;s &lt;b&gt;: $1234.50/month</li>" in rate_items(rates)
    assert rate_items([]) == ""
