from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from dramaturg.errors import ConfigError
from dramaturg.tools import Tool, ToolDefinitionError, ToolSet, tool


class Address(BaseModel):
    street: str
    city: str = Field("Paris", description="the city name")


def ship(
    item: str,
    quantity: int,
    address: Address,
    tags: list[str],
    speed: Literal["slow", "fast"] = "slow",
    note: str | None = None,
    insured: bool = False,
) -> str:
    """Ship an item to an address.

    A second paragraph the model should also see.

    Args:
        item: what to ship.
        quantity: how many; the description
            continues on a second line.
        address: where it goes.
        tags (list[str]): labels for the parcel.
        speed: delivery speed.

    Returns:
        A tracking number.
    """
    return "T1"


def test_schema_covers_defaults_optional_literal_list_and_nested_model():
    params = Tool.from_function(ship).parameters
    props = params["properties"]
    assert params["type"] == "object"
    assert params["required"] == ["item", "quantity", "address", "tags"]
    assert params["additionalProperties"] is False
    assert props["quantity"]["type"] == "integer"
    assert props["tags"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "labels for the parcel.",
    }
    assert props["speed"]["enum"] == ["slow", "fast"] and props["speed"]["default"] == "slow"
    assert {"type": "null"} in props["note"]["anyOf"] and props["note"]["default"] is None
    assert props["insured"] == {"type": "boolean", "default": False}
    assert props["address"]["$ref"] == "#/$defs/Address"
    nested = params["$defs"]["Address"]
    assert nested["required"] == ["street"]
    assert nested["properties"]["city"]["description"] == "the city name"
    assert "title" not in props["item"]  # pydantic's generated titles are stripped


def test_docstring_gives_description_and_argument_descriptions():
    t = Tool.from_function(ship)
    assert (
        t.description
        == "Ship an item to an address.\n\nA second paragraph the model should also see."
    )
    props = t.parameters["properties"]
    assert props["item"]["description"] == "what to ship."
    assert (
        props["quantity"]["description"] == "how many; the description continues on a second line."
    )
    assert props["address"]["description"] == "where it goes."
    assert "description" not in props["note"]  # not documented
    assert "tracking" not in t.description  # the Returns section is not part of the summary


def test_openai_schema_shape_and_compact_description():
    tools = ToolSet([ship])
    [schema] = tools.schemas()
    assert schema["type"] == "function"
    assert schema["function"]["name"] == "ship"
    assert schema["function"]["parameters"]["properties"]["item"]["type"] == "string"
    text = tools.describe()
    assert text.splitlines()[0] == (
        "ship(item: str, quantity: int, address: Address, tags: list[str], speed: 'slow' | 'fast' = 'slow', "
        "note: str | None = None, insured: bool = False): Ship an item to an address."
    )
    assert "    item: what to ship." in text
    assert "second paragraph" not in tools.describe(arguments=False)


def test_decorator_and_overrides():
    @tool(name="shout-loud", timeout_s=3)
    async def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    assert (shout.name, shout.timeout_s, shout.is_async) == ("shout-loud", 3, True)

    def echo(x: int) -> int:
        return x

    t = Tool.from_function(echo, description="Echo a number.")
    assert (t.name, t.description, t.is_async) == ("echo", "Echo a number.", False)


def _untyped(x):
    """No hints."""


def _star(*items: str) -> None:
    """Star args."""


def _undocumented(x: int) -> None:
    pass


@pytest.mark.parametrize(
    ("fn", "needle"),
    [(_untyped, "has no type hint"), (_star, "must be named"), (_undocumented, "no description")],
)
def test_functions_that_cannot_be_tools_raise_with_the_fix(fn, needle):
    with pytest.raises(ToolDefinitionError, match=needle) as info:
        Tool.from_function(fn)
    assert isinstance(info.value, ConfigError)


def test_duplicate_names_are_a_developer_error():
    tools = ToolSet([ship])
    with pytest.raises(ToolDefinitionError, match="already in this toolset"):
        tools.add(ship)
