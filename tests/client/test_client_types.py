"""The client's typed dictionaries say what the OpenAPI document says the API returns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import is_typeddict

import pytest

from platequeue import client_types

SPEC = json.loads((Path(__file__).resolve().parents[2] / "web" / "openapi.json").read_text())
SCHEMAS = SPEC["components"]["schemas"]


@pytest.mark.parametrize("name", client_types.__all__)
def test_keys_match_the_openapi_schema(name: str) -> None:
    typed = getattr(client_types, name)
    assert is_typeddict(typed)
    schema = SCHEMAS[name]
    assert set(typed.__annotations__) == set(schema["properties"])
    assert set(typed.__required_keys__) == set(schema["required"])
