"""How the in-process vLLM backend turns offered tools into template input and decoding constraints.

Pure: these run without vllm installed; the engine side is covered in tests/integration/vllm/.
"""

from __future__ import annotations

import json

import pytest

from inference.backends import (
    BackendRejected,
    BadBackendResponse,
    GenerationRequest,
    Message,
    Tool,
)
from inference.backends.vllm import ToolPlan

WEATHER = Tool(
    name="get_weather",
    description="Weather for a city",
    parameters_json='{"type": "object", "properties": {"city": {"type": "string"}}}',
)
LOOKUP = Tool(name="lookup", description="", parameters_json='{"type": "object"}')


def plan(tool_choice: str | None, tools: tuple[Tool, ...] = (WEATHER, LOOKUP)) -> ToolPlan:
    return ToolPlan.for_request(
        GenerationRequest(
            request_id="r",
            model="m",
            messages=(Message(role="user", content="hi"),),
            tools=tools,
            tool_choice=tool_choice,
        )
    )


def test_no_tools_or_tool_choice_none_render_no_tools() -> None:
    assert plan("auto", tools=()) == ToolPlan()
    assert plan("none") == ToolPlan()


@pytest.mark.parametrize("choice", [None, "auto"])
def test_auto_renders_tools_without_constraining_decoding(choice: str | None) -> None:
    auto = plan(choice)
    assert [t["function"]["name"] for t in auto.template_tools] == ["get_weather", "lookup"]
    assert auto.schema is None


def test_named_choice_constrains_decoding_to_that_tools_schema() -> None:
    named = plan("get_weather")
    assert named.schema == json.loads(WEATHER.parameters_json)
    assert named.finish_reason == "stop"
    (call,) = named.read_calls('{"city": "Paris"}')
    assert (call.name, call.arguments) == ("get_weather", '{"city": "Paris"}')


def test_required_choice_constrains_to_a_non_empty_list_of_offered_calls() -> None:
    required = plan("required")
    assert required.schema is not None
    assert required.schema["minItems"] == 1
    names = [item["properties"]["name"]["enum"] for item in required.schema["items"]["anyOf"]]
    assert names == [["get_weather"], ["lookup"]]
    assert required.finish_reason == "tool_calls"
    calls = required.read_calls('[{"name": "lookup", "parameters": {"q": "x"}}]')
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("lookup", {"q": "x"})]


def test_every_call_gets_a_distinct_id() -> None:
    required = plan("required")
    output = '[{"name": "lookup", "parameters": {}}, {"name": "lookup", "parameters": {}}]'
    ids = [c.id for c in required.read_calls(output) + required.read_calls(output)]
    assert len(set(ids)) == 4


def test_named_choice_for_a_tool_not_offered_is_rejected() -> None:
    with pytest.raises(BackendRejected):
        plan("drop_database")


@pytest.mark.parametrize("parameters", ["{not json", "[1]"])
def test_tool_parameters_that_are_not_a_schema_object_are_rejected(parameters: str) -> None:
    with pytest.raises(BackendRejected):
        plan("auto", tools=(Tool(name="t", description="", parameters_json=parameters),))


@pytest.mark.parametrize("output", ["not json", "{}", "[]", '[{"parameters": {}}]'])
def test_required_output_that_is_not_a_call_list_is_a_bad_response(output: str) -> None:
    with pytest.raises(BadBackendResponse):
        plan("required").read_calls(output)
