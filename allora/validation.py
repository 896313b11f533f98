"""Input rules shared by the pages' forms, the API's schemas and the rows of an import file.

Dates: every date a user gives (a form, a query string, an API body) lies between
``EARLIEST_DATE`` and ``LATEST_DATE``. Far dates are never meant, and the date arithmetic behind
them (a term's end, a schedule's next year, a calendar's next month) would overflow
``date.max`` and fail with a server error. Forms use ``BoundedDateField`` /
``BoundedDateTimeField``, API schemas ``BoundedDate`` / ``BoundedDateTime``, views reading a date
from the query string ``query_date``; all of them ask ``date_in_range``.
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator

EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}."

# Ids beyond a 64-bit integer would overflow the database driver instead of being "not found".
MAX_ID = 2**63 - 1

# The most of anything counted by hand (hosting packages on a line, lines on a card): a typed
# number above it is a form error, well before the database's integer limits.
MAX_COUNT = 1000

# Money in: a decimal (number or string), never negative, with at most two decimals.
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2, ge=0)]


def date_in_range(value: dt.date | dt.datetime) -> bool:
    """Whether a date (or a datetime's own calendar date) lies in the accepted range."""
    day = value.date() if isinstance(value, dt.datetime) else value
    return EARLIEST_DATE <= day <= LATEST_DATE


def validate_date_in_range(value):
    """Django validator: a form field's date or datetime lies in the accepted range."""
    if value is not None and not date_in_range(value):
        raise DjangoValidationError(DATE_RANGE_MESSAGE, code="date_range")


def query_date(text: str | None, *, default: dt.date) -> dt.date:
    """A YYYY-MM-DD date from the query string; ``default`` when it is not a date in range
    (a page reached with a bad link shows today rather than an error page)."""
    try:
        day = dt.date.fromisoformat(text or "")
    except ValueError:
        return default
    return day if date_in_range(day) else default


def query_id(text: str | None) -> int | None:
    """An object id from the query string (or a form's raw value); None when it is not one.
    Stricter than ``str.isdigit()``, which accepts "²" and thousands of digits that int() or
    the database driver then fail on."""
    if text and len(text) <= len(str(MAX_ID)) and text.isascii() and text.isdigit():
        value = int(text)
        return value if 1 <= value <= MAX_ID else None
    return None


class _DateRangeField:
    """The range check, and the browser's date pickers told the same range (min, max)."""

    default_validators = [validate_date_in_range]
    picker_range: dict[str, tuple[str, str]] = {
        "date": (EARLIEST_DATE.isoformat(), LATEST_DATE.isoformat()),
        "datetime-local": (f"{EARLIEST_DATE}T00:00", f"{LATEST_DATE}T23:59"),
    }

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)  # type: ignore[misc]
        picker = self.picker_range.get(widget.attrs.get("type") or widget.input_type)
        if picker:
            attrs.update(min=picker[0], max=picker[1])
        return attrs


class BoundedDateField(_DateRangeField, forms.DateField):
    """A form's date field that accepts only dates in the accepted range."""


class BoundedDateTimeField(_DateRangeField, forms.DateTimeField):
    """A form's date-and-time field that accepts only dates in the accepted range."""


# For ModelAdmin.formfield_overrides: the admin pages where people type dates (holidays,
# discount policies) check them like every other form.
ADMIN_DATE_FIELDS = {models.DateField: {"form_class": BoundedDateField}}


def _in_range(value):
    if not date_in_range(value):
        raise ValueError(DATE_RANGE_MESSAGE)
    return value


BoundedDate = Annotated[dt.date, AfterValidator(_in_range)]
BoundedDateTime = Annotated[dt.datetime, AfterValidator(_in_range)]


def text(max_length: int, *, min_length: int = 0):
    """A stripped string field with the model's length limit (PostgreSQL enforces it; SQLite
    would not)."""
    return Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=max_length, min_length=min_length)
    ]


class NoNulText(BaseModel):
    """Text may hold no NUL character: PostgreSQL cannot store one."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value
