"""CSV cells a spreadsheet does not run (issue 12): the shared helper of every CSV export."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from allora.spreadsheet import FORMULA_STARTS, safe_cell, unescape_cell


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1 919 555 0100", "'+1 919 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'quoted'", "''quoted'"),
        ("Oak City Dental", "Oak City Dental"),
        ("", ""),
        # Numbers stay numbers: a spreadsheet sums them and never runs them.
        ("-12.50", "-12.50"),
        ("-5", "-5"),
        ("150.00", "150.00"),
    ],
)
def test_text_that_starts_a_formula_gets_a_leading_quote(text, cell):
    assert safe_cell(text) == cell


@given(st.text())
def test_a_safe_cell_never_starts_a_formula_and_unescapes_to_the_text(text):
    cell = safe_cell(text)
    assert cell[:1] not in FORMULA_STARTS or cell.lstrip("-").replace(".", "", 1).isdigit()
    assert unescape_cell(cell) == text
