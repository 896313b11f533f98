"""Text with a NUL character is refused by every entry point that parses input (PostgreSQL
cannot store one): the API's request bodies and filters, and the rows of an import file."""

import pytest
from pydantic import ValidationError

from agreements.importing import ContactRow
from allora.api import Filters, Input


class Body(Input):
    name: str


class Query(Filters):
    q: str = ""


@pytest.mark.parametrize("schema", [Body, Query])
def test_api_input_refuses_nul(schema):
    field = "name" if schema is Body else "q"
    with pytest.raises(ValidationError, match="must not contain NUL characters"):
        schema(**{field: "Oak\x00City"})
    assert getattr(schema(**{field: "Oak City"}), field) == "Oak City"


def test_import_rows_refuse_nul():
    with pytest.raises(ValidationError, match="must not contain NUL characters"):
        ContactRow(name="Karen\x00Liu", email="karen@oakcity.example")
    assert ContactRow(name="Karen Liu", email="karen@oakcity.example").name == "Karen Liu"
