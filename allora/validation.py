"""Input rules shared by the API's schemas and the rows of an import file."""

from pydantic import BaseModel, field_validator


class NoNulText(BaseModel):
    """Text may hold no NUL character: PostgreSQL cannot store one."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value
