"""Input rules shared by the API's schemas and the rows of an import file."""

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

# Money in: a decimal (number or string), never negative, with at most two decimals.
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2, ge=0)]


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
